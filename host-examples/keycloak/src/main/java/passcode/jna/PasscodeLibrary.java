package passcode.jna;

import com.sun.jna.Callback;
import com.sun.jna.Memory;
import com.sun.jna.Native;
import com.sun.jna.NativeLibrary;
import com.sun.jna.Pointer;
import com.sun.jna.Structure;
import com.sun.jna.ptr.LongByReference;
import com.sun.jna.ptr.PointerByReference;
import java.nio.charset.StandardCharsets;

/**
 * The C ABI of include/passcode.h, direct-mapped with JNA: every native declaration, struct and
 * callback type lives here, and nowhere else. Handles (PasscodeEngine, PasscodeDelivery) wrap
 * these calls; nothing outside this package sees a Pointer.
 *
 * <p>The library is found as {@code libpasscode.so} through {@code -Djna.library.path} or
 * {@code LD_LIBRARY_PATH}, or at the path in {@code -Dpasscode.library}. Loading checks that its ABI
 * major is the one this binding was written for. {@code size_t} is mapped to {@code long}: 64-bit
 * platforms only.
 */
final class PasscodeLibrary {
    /** The ABI major this binding was written for (PASSCODE_ABI_VERSION). */
    static final int ABI_VERSION = 1;
    /** PASSCODE_STATUS_TEXT_MAX + 1. */
    static final int STATUS_TEXT_BUFFER = 97;
    /** PASSCODE_STORE_KEY_BYTES. */
    static final int STORE_KEY_BYTES = 32;

    /** PasscodeStoreOutcome values. */
    static final int STORE_OK = 0;

    static final int STORE_CONFLICT = 1;
    static final int STORE_FAILED = 2;

    static {
        NativeLibrary library = NativeLibrary.getInstance(System.getProperty("passcode.library", "passcode"));
        Native.register(PasscodeLibrary.class, library);
        int abi = passcode_abi_version();
        if (abi != ABI_VERSION) {
            throw new UnsatisfiedLinkError(
                    "libpasscode has ABI version " + abi + "; this binding needs " + ABI_VERSION);
        }
    }

    private PasscodeLibrary() {}

    /** Loads the library now (the first use of any handle does it too). */
    static void load() {}

    // --- structs ---

    /** PasscodeStr, returned by value: a borrowed view of UTF-8 text. */
    @Structure.FieldOrder({"data", "len"})
    public static class Str extends Structure implements Structure.ByValue {
        public Pointer data;
        public long len;

        String text() {
            return utf8(data, len);
        }
    }

    /** The UTF-8 text of len bytes at data, copied ("" for none). */
    static String utf8(Pointer data, long len) {
        if (len == 0 || data == null) {
            return "";
        }
        return new String(data.getByteArray(0, Math.toIntExact(len)), StandardCharsets.UTF_8);
    }

    /** PasscodeFailure: its layout, for reading it from a call's scratch memory. */
    @Structure.FieldOrder({"status", "has_attempts_left", "attempts_left", "has_retry_after", "retry_after"})
    public static class Failure extends Structure {
        public int status;
        public byte has_attempts_left;
        public int attempts_left;
        public byte has_retry_after;
        public long retry_after;

        int offset(String field) {
            return fieldOffset(field);
        }
    }

    private static final Failure FAILURE_LAYOUT = new Failure();
    private static final int FAILURE_STATUS = FAILURE_LAYOUT.offset("status");
    private static final int FAILURE_HAS_ATTEMPTS = FAILURE_LAYOUT.offset("has_attempts_left");
    private static final int FAILURE_ATTEMPTS = FAILURE_LAYOUT.offset("attempts_left");
    private static final int FAILURE_HAS_RETRY = FAILURE_LAYOUT.offset("has_retry_after");
    private static final int FAILURE_RETRY = FAILURE_LAYOUT.offset("retry_after");

    /**
     * Per-thread native memory for a call's out-pointer and PasscodeFailure: allocating and
     * reflecting over a JNA Structure on every call would cost more than the engine's work.
     */
    static final class Scratch {
        final Memory out = new Memory(Native.POINTER_SIZE);
        final Memory failure = new Memory(FAILURE_LAYOUT.size());

        /** The out-pointer a successful call wrote. */
        Pointer result() {
            return out.getPointer(0);
        }

        /** The exception for a failed call's status, with the details if they are for that status. */
        PasscodeException exception(int returned) {
            boolean mine = failure.getInt(FAILURE_STATUS) == returned;
            return new PasscodeException(
                    returned,
                    mine && failure.getByte(FAILURE_HAS_ATTEMPTS) != 0 ? failure.getInt(FAILURE_ATTEMPTS) : null,
                    mine && failure.getByte(FAILURE_HAS_RETRY) != 0 ? failure.getLong(FAILURE_RETRY) : null);
        }
    }

    private static final ThreadLocal<Scratch> SCRATCH = ThreadLocal.withInitial(Scratch::new);

    /** This thread's scratch memory, cleared. */
    static Scratch scratch() {
        Scratch s = SCRATCH.get();
        s.out.setPointer(0, null);
        s.failure.setInt(FAILURE_STATUS, 0);
        return s;
    }

    /** PasscodeStore's get callback. */
    public interface StoreGet extends Callback {
        int invoke(Pointer ctx, Pointer key, long now, Pointer found);
    }

    /** PasscodeStore's put callback. */
    public interface StorePut extends Callback {
        int invoke(
                Pointer ctx,
                Pointer key,
                Pointer value,
                long valueLen,
                long ttlSeconds,
                long expectedVersion,
                long now,
                LongByReference newVersion);
    }

    /** PasscodeStore's remove callback. */
    public interface StoreRemove extends Callback {
        int invoke(Pointer ctx, Pointer key, long version, long now);
    }

    /** PasscodeClock's now callback. */
    public interface ClockNow extends Callback {
        long invoke(Pointer ctx);
    }

    /** PasscodeEventSink's emit callback. */
    public interface EventEmit extends Callback {
        void invoke(Pointer ctx, Pointer event);
    }

    /** PasscodeStore (a pointer wherever it appears, as in PasscodeHostParts). */
    @Structure.FieldOrder({"ctx", "get", "put", "remove"})
    public static class StoreCallbacks extends Structure implements Structure.ByReference {
        public Pointer ctx;
        public StoreGet get;
        public StorePut put;
        public StoreRemove remove;
    }

    /** PasscodeClock. */
    @Structure.FieldOrder({"ctx", "now"})
    public static class ClockCallbacks extends Structure implements Structure.ByReference {
        public Pointer ctx;
        public ClockNow now;
    }

    /** PasscodeEventSink. */
    @Structure.FieldOrder({"ctx", "emit"})
    public static class EventCallbacks extends Structure implements Structure.ByReference {
        public Pointer ctx;
        public EventEmit emit;
    }

    /** PasscodeEvent, read inside the emit callback. */
    @Structure.FieldOrder({
        "kind", "at", "channel", "purpose", "subject", "subject_len", "has_attempts_left", "attempts_left",
        "has_retry_after", "retry_after", "scope", "error"
    })
    public static class Event extends Structure {
        public int kind;
        public long at;
        public int channel;
        public int purpose;
        public Pointer subject;
        public long subject_len;
        public byte has_attempts_left;
        public int attempts_left;
        public byte has_retry_after;
        public long retry_after;
        public int scope;
        public int error;

        Event() {}

        Event(Pointer p) {
            super(p);
            read();
        }

        int offset(String field) {
            return fieldOffset(field);
        }
    }

    /** PasscodeHostParts: each member NULL or a struct. */
    @Structure.FieldOrder({"store", "clock", "events"})
    public static class HostPartsStruct extends Structure {
        public StoreCallbacks store;
        public ClockCallbacks clock;
        public EventCallbacks events;
    }

    /** PasscodeDeliveryEventSink's emit callback. */
    public interface DeliveryEmit extends Callback {
        void invoke(Pointer ctx, Pointer event);
    }

    /** PasscodeDeliveryEventSink, passed by pointer to passcode_delivery_new (which copies it). */
    @Structure.FieldOrder({"ctx", "emit"})
    public static class DeliverySinkStruct extends Structure {
        public Pointer ctx;
        public DeliveryEmit emit;
    }

    /** PasscodeDeliveryEvent, read inside the emit callback. */
    @Structure.FieldOrder({
        "kind", "at", "message_id", "message_id_len", "channel", "purpose", "subject", "subject_len", "sender",
        "sender_len", "attempt", "provider_id", "provider_id_len", "reason", "reason_len", "status", "provider_code",
        "provider_code_len", "has_retry_in", "retry_in_ms"
    })
    public static class DeliveryEventStruct extends Structure {
        public int kind;
        public long at;
        public Pointer message_id;
        public long message_id_len;
        public int channel;
        public int purpose;
        public Pointer subject;
        public long subject_len;
        public Pointer sender;
        public long sender_len;
        public int attempt;
        public Pointer provider_id;
        public long provider_id_len;
        public Pointer reason;
        public long reason_len;
        public int status;
        public Pointer provider_code;
        public long provider_code_len;
        public byte has_retry_in;
        public long retry_in_ms;

        DeliveryEventStruct() {}

        DeliveryEventStruct(Pointer p) {
            super(p);
            read();
        }

        int offset(String field) {
            return fieldOffset(field);
        }
    }

    // --- functions (one line each per the header) ---

    static native Str passcode_version();

    static native int passcode_abi_version();

    static native int passcode_engine_new(byte[] config, long configLen, HostPartsStruct parts, PointerByReference out);

    static native void passcode_engine_free(Pointer engine);

    static native int passcode_issue(
            Pointer engine,
            int channel,
            int purpose,
            byte[] identifier,
            long identifierLen,
            byte[] client,
            long clientLen,
            byte[] locale,
            long localeLen,
            Pointer out,
            Pointer failure);

    static native int passcode_issue_for_account(
            Pointer engine,
            byte[] account,
            long accountLen,
            int channel,
            int purpose,
            byte[] identifier,
            long identifierLen,
            byte[] client,
            long clientLen,
            byte[] locale,
            long localeLen,
            Pointer out,
            Pointer failure);

    static native int passcode_resend(
            Pointer engine,
            byte[] token,
            long tokenLen,
            byte[] client,
            long clientLen,
            byte[] locale,
            long localeLen,
            Pointer out,
            Pointer failure);

    static native int passcode_verify(
            Pointer engine, byte[] token, long tokenLen, byte[] code, long codeLen, Pointer out, Pointer failure);

    static native int passcode_delivery_new(
            byte[] config, long configLen, DeliverySinkStruct events, PointerByReference out);

    static native void passcode_delivery_free(Pointer delivery);

    /** {@code deliver} is C's {@code bool}: passed as a byte holding 0 or 1 (JNA would pass a Java boolean as an int). */
    static native int passcode_issue_and_send(
            Pointer engine,
            Pointer delivery,
            byte deliver,
            int channel,
            int purpose,
            byte[] identifier,
            long identifierLen,
            byte[] client,
            long clientLen,
            byte[] locale,
            long localeLen,
            Pointer out,
            Pointer failure);

    static native int passcode_issue_and_send_for_account(
            Pointer engine,
            Pointer delivery,
            byte deliver,
            byte[] account,
            long accountLen,
            int channel,
            int purpose,
            byte[] identifier,
            long identifierLen,
            byte[] client,
            long clientLen,
            byte[] locale,
            long localeLen,
            Pointer out,
            Pointer failure);

    static native int passcode_resend_and_send(
            Pointer engine,
            Pointer delivery,
            byte deliver,
            byte[] token,
            long tokenLen,
            byte[] client,
            long clientLen,
            byte[] locale,
            long localeLen,
            Pointer out,
            Pointer failure);

    static native int passcode_cancel(Pointer engine, byte[] token, long tokenLen);

    static native int passcode_unlock(Pointer engine, int channel, byte[] identifier, long identifierLen);

    static native int passcode_unlock_account(Pointer engine, byte[] account, long accountLen);

    static native int passcode_status_text(int status, byte[] buf, long len, LongByReference outN);

    static native void passcode_issued_free(Pointer issued);

    static native Str passcode_issued_token(Pointer issued);

    static native Str passcode_issued_code(Pointer issued);

    static native Str passcode_issued_recipient(Pointer issued);

    static native Str passcode_issued_sms_text(Pointer issued);

    static native Str passcode_issued_email_subject(Pointer issued);

    static native Str passcode_issued_email_text(Pointer issued);

    static native Str passcode_issued_email_html(Pointer issued);

    static native long passcode_issued_expires_at(Pointer issued);

    static native long passcode_issued_resend_at(Pointer issued);

    static native int passcode_issued_channel(Pointer issued);

    static native int passcode_issued_purpose(Pointer issued);

    static native Str passcode_issued_subject(Pointer issued);

    static native int passcode_store_found_set(Pointer found, byte[] value, long len, long version);

    static native void passcode_verified_free(Pointer verified);

    static native Str passcode_verified_identifier(Pointer verified);

    static native int passcode_verified_channel(Pointer verified);

    static native int passcode_verified_purpose(Pointer verified);

    static native Str passcode_verified_account(Pointer verified);

    // --- helpers ---

    static String statusText(int status) {
        byte[] buf = new byte[STATUS_TEXT_BUFFER];
        LongByReference n = new LongByReference();
        if (passcode_status_text(status, buf, buf.length, n) != 0) {
            return "passcode status " + status;
        }
        return new String(buf, 0, Math.toIntExact(n.getValue()), StandardCharsets.UTF_8);
    }

    /** Copies an issued challenge out of the library and frees it (which wipes the library's copy of the code). */
    static Issued takeIssued(Pointer p) {
        try {
            return new Issued(
                    passcode_issued_token(p).text(),
                    passcode_issued_code(p).text(),
                    passcode_issued_recipient(p).text(),
                    Channel.of(passcode_issued_channel(p)),
                    Purpose.of(passcode_issued_purpose(p)),
                    passcode_issued_subject(p).text(),
                    passcode_issued_sms_text(p).text(),
                    passcode_issued_email_subject(p).text(),
                    passcode_issued_email_text(p).text(),
                    passcode_issued_email_html(p).text(),
                    passcode_issued_expires_at(p),
                    passcode_issued_resend_at(p));
        } finally {
            passcode_issued_free(p);
        }
    }

    /** Copies a verified result out of the library and frees it. */
    static Verified takeVerified(Pointer p) {
        try {
            String account = passcode_verified_account(p).text();
            return new Verified(
                    passcode_verified_identifier(p).text(),
                    Channel.of(passcode_verified_channel(p)),
                    Purpose.of(passcode_verified_purpose(p)),
                    account.isEmpty() ? null : account);
        } finally {
            passcode_verified_free(p);
        }
    }
}
