package passcode.jna;

import com.sun.jna.Pointer;
import com.sun.jna.ptr.PointerByReference;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;

/**
 * An open Passcode engine (PasscodeEngine in the C ABI). Safe to share between threads: every
 * operation is one compare-and-swap on the store. Close it when done (it waits for calls in
 * progress); an engine that is never closed is freed once unreachable.
 *
 * <p>Every refusal is a PasscodeException carrying the status and the details; outputs are
 * returned only on success.
 */
public final class PasscodeEngine extends NativeHandle {
    private PasscodeEngine(Pointer pointer, List<Object> keepAlive) {
        super(pointer, PasscodeLibrary::passcode_engine_free, keepAlive);
    }

    /** Opens an engine from a TOML or JSON config (the schema of every Passcode surface). */
    public static PasscodeEngine open(String config) throws PasscodeException {
        return open(config, null);
    }

    /** Opens an engine from a config, with the host's store, clock and event sink. */
    public static PasscodeEngine open(String config, HostParts parts) throws PasscodeException {
        List<Object> keepAlive = new ArrayList<>();
        PasscodeLibrary.HostPartsStruct struct = Callbacks.of(parts, keepAlive);
        byte[] text = utf8(config);
        PointerByReference out = new PointerByReference();
        int status = PasscodeLibrary.passcode_engine_new(text, text.length, struct, out);
        if (status != 0) {
            throw new PasscodeException(status, null, null);
        }
        return new PasscodeEngine(out.getValue(), keepAlive);
    }

    /**
     * Issues a code for a new challenge, replacing any live one of the same subject and purpose.
     *
     * @param identifier the email address or E.164 number as typed
     * @param client the client's IP address for its send bucket, or null
     * @param locale a locale tag such as "fr-CA" for the message, or null
     */
    public Issued issue(Channel channel, Purpose purpose, String identifier, String client, String locale)
            throws PasscodeException {
        return issue(channel.number(), purpose.number(), identifier, client, locale);
    }

    /** issue() with the C ABI's raw numbers: the typed API cannot pass an unknown one, this can. */
    Issued issue(int channel, int purpose, String identifier, String client, String locale) throws PasscodeException {
        byte[] id = utf8(identifier);
        byte[] cl = optional(client);
        byte[] lo = optional(locale);
        return call(engine -> issuing(scratch -> PasscodeLibrary.passcode_issue(
                engine, channel, purpose, id, id.length, cl, length(cl), lo, length(lo), scratch.out, scratch.failure)));
    }

    /**
     * As issue(), but the subject is the host's account id (at most 128 bytes): failures, locks
     * and limits are the account's whichever address or number the code goes to. verify()
     * returns it in Verified.account().
     */
    public Issued issueForAccount(String account, Channel channel, Purpose purpose, String identifier, String client, String locale)
            throws PasscodeException {
        byte[] a = utf8(account);
        byte[] id = utf8(identifier);
        byte[] cl = optional(client);
        byte[] lo = optional(locale);
        return call(engine -> {
            PasscodeLibrary.Scratch scratch = PasscodeLibrary.scratch();
            int s = PasscodeLibrary.passcode_issue_for_account(
                    engine, a, a.length, channel.number(), purpose.number(), id, id.length, cl, length(cl), lo,
                    length(lo), scratch.out, scratch.failure);
            if (s != 0) {
                throw scratch.exception(s);
            }
            return PasscodeLibrary.takeIssued(scratch.result());
        });
    }

    /** Sends a new code for a live challenge: the old code stops working; the token stays the same. */
    public Issued resend(String token, String client, String locale) throws PasscodeException {
        byte[] t = utf8(token);
        byte[] cl = optional(client);
        byte[] lo = optional(locale);
        return call(engine -> issuing(scratch -> PasscodeLibrary.passcode_resend(
                engine, t, t.length, cl, length(cl), lo, length(lo), scratch.out, scratch.failure)));
    }

    /**
     * Like issue(), and queues the message on delivery in the same call. A place in delivery's
     * queue is taken first, so DELIVERY_QUEUE_FULL, NO_SENDER (no sender for the channel) and
     * DELIVERY_STOPPED issue no code. The message then leaves on delivery's own threads; its
     * listener hears what becomes of it.
     *
     * @param deliver false for an identifier that is not an account: the call takes the same
     *     steps and returns the same answer but sends nothing, so the host's answer (and its
     *     timing) does not tell whether the account exists
     */
    public Issued issueAndSend(
            PasscodeDelivery delivery,
            boolean deliver,
            Channel channel,
            Purpose purpose,
            String identifier,
            String client,
            String locale)
            throws PasscodeException {
        Objects.requireNonNull(delivery, "delivery");
        byte[] id = utf8(identifier);
        byte[] cl = optional(client);
        byte[] lo = optional(locale);
        byte flag = cBool(deliver);
        int ch = channel.number();
        int pu = purpose.number();
        return call(engine -> delivery.call(d -> issuing(scratch -> PasscodeLibrary.passcode_issue_and_send(
                engine, d, flag, ch, pu, id, id.length, cl, length(cl), lo, length(lo), scratch.out, scratch.failure))));
    }

    /**
     * As issueAndSend(), but the subject is the host's account id (as in issueForAccount()):
     * failures, locks and limits are the account's whichever address or number the code goes to.
     */
    public Issued issueAndSendForAccount(
            PasscodeDelivery delivery,
            boolean deliver,
            String account,
            Channel channel,
            Purpose purpose,
            String identifier,
            String client,
            String locale)
            throws PasscodeException {
        Objects.requireNonNull(delivery, "delivery");
        byte[] a = utf8(account);
        byte[] id = utf8(identifier);
        byte[] cl = optional(client);
        byte[] lo = optional(locale);
        byte flag = cBool(deliver);
        int ch = channel.number();
        int pu = purpose.number();
        return call(engine -> delivery.call(d -> issuing(scratch -> PasscodeLibrary.passcode_issue_and_send_for_account(
                engine, d, flag, a, a.length, ch, pu, id, id.length, cl, length(cl), lo, length(lo), scratch.out,
                scratch.failure))));
    }

    /**
     * Like resend(), and queues the message on delivery in the same call (a place taken first,
     * as for issueAndSend; {@code deliver} as there). NO_SENDER here means the challenge's channel
     * (read from the token first) has no sender on this delivery; then, as on DELIVERY_QUEUE_FULL,
     * no new code was made and the old one still works.
     */
    public Issued resendAndSend(PasscodeDelivery delivery, boolean deliver, String token, String client, String locale)
            throws PasscodeException {
        Objects.requireNonNull(delivery, "delivery");
        byte[] t = utf8(token);
        byte[] cl = optional(client);
        byte[] lo = optional(locale);
        byte flag = cBool(deliver);
        return call(engine -> delivery.call(d -> issuing(scratch -> PasscodeLibrary.passcode_resend_and_send(
                engine, d, flag, t, t.length, cl, length(cl), lo, length(lo), scratch.out, scratch.failure))));
    }

    /** Checks a code; on success the challenge is used up. Spaces and dashes in the code are ignored. */
    public Verified verify(String token, String code) throws PasscodeException {
        byte[] t = utf8(token);
        byte[] c = utf8(code);
        return call(engine -> {
            PasscodeLibrary.Scratch scratch = PasscodeLibrary.scratch();
            int s = PasscodeLibrary.passcode_verify(engine, t, t.length, c, c.length, scratch.out, scratch.failure);
            if (s != 0) {
                throw scratch.exception(s);
            }
            return PasscodeLibrary.takeVerified(scratch.result());
        });
    }

    /** Cancels a live challenge; its code stops working. */
    public void cancel(String token) throws PasscodeException {
        byte[] t = utf8(token);
        call(engine -> check(PasscodeLibrary.passcode_cancel(engine, t, t.length)));
    }

    /** An operator's unlock: clears the subject's failures and any lock, temporary or hard. */
    public void unlock(Channel channel, String identifier) throws PasscodeException {
        unlock(channel.number(), identifier);
    }

    /** unlock() with the C ABI's raw channel number. */
    void unlock(int channel, String identifier) throws PasscodeException {
        byte[] id = utf8(identifier);
        call(engine -> check(PasscodeLibrary.passcode_unlock(engine, channel, id, id.length)));
    }

    /** An operator's unlock of an account subject (see issueForAccount). */
    public void unlockAccount(String account) throws PasscodeException {
        byte[] a = utf8(account);
        call(engine -> check(PasscodeLibrary.passcode_unlock_account(engine, a, a.length)));
    }

    /** The library's version, e.g. "0.1.0". */
    public static String version() {
        return PasscodeLibrary.passcode_version().text();
    }

    /** The loaded library's ABI major version (checked against this binding's when it loads). */
    public static int abiVersion() {
        return PasscodeLibrary.passcode_abi_version();
    }

    /** A call that writes a PasscodeIssued to the scratch memory's out-pointer and returns a status. */
    @FunctionalInterface
    private interface IssuingCall {
        int run(PasscodeLibrary.Scratch scratch);
    }

    /** Runs an issuing call with this thread's scratch memory: the issued challenge, or the refusal. */
    private static Issued issuing(IssuingCall call) throws PasscodeException {
        PasscodeLibrary.Scratch scratch = PasscodeLibrary.scratch();
        int s = call.run(scratch);
        if (s != 0) {
            throw scratch.exception(s);
        }
        return PasscodeLibrary.takeIssued(scratch.result());
    }

    /** C's bool as the byte JNA passes: exactly 0 or 1 (a Java boolean would go as an int). */
    private static byte cBool(boolean b) {
        return b ? (byte) 1 : (byte) 0;
    }

    private static Void check(int status) throws PasscodeException {
        if (status != 0) {
            throw new PasscodeException(status, null, null);
        }
        return null;
    }

    static byte[] utf8(String s) {
        if (s == null) {
            throw new NullPointerException("a required text argument is null");
        }
        return s.getBytes(StandardCharsets.UTF_8);
    }

    private static byte[] optional(String s) {
        return s == null || s.isEmpty() ? null : s.getBytes(StandardCharsets.UTF_8);
    }

    private static long length(byte[] b) {
        return b == null ? 0 : b.length;
    }
}
