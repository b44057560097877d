package passcode.jna;

import java.util.List;
import java.util.OptionalInt;
import java.util.OptionalLong;
import java.util.function.Consumer;
import java.util.function.LongSupplier;
import java.util.logging.Level;
import java.util.logging.Logger;

/**
 * The host's parts, and delivery's listener, as C callbacks. No exception may cross into C: a
 * failing store answers FAILED (the engine then fails the operation closed), a failing clock
 * answers the system time, a failing event sink or delivery listener is logged and ignored. The callbacks capture their Java objects, so the
 * C {@code ctx} is always NULL. Log lines name the part and the exception's class,
 * never a key, a value or an event's content.
 */
final class Callbacks {
    private static final Logger LOG = Logger.getLogger("passcode.jna");

    private Callbacks() {}

    /** The PasscodeHostParts for parts, and every object C may call, to keep reachable. */
    static PasscodeLibrary.HostPartsStruct of(HostParts parts, List<Object> keepAlive) {
        if (parts == null) {
            return null;
        }
        PasscodeLibrary.HostPartsStruct struct = new PasscodeLibrary.HostPartsStruct();
        if (parts.store != null) {
            struct.store = store(parts.store);
            keepAlive.add(struct.store);
        }
        if (parts.clock != null) {
            struct.clock = clock(parts.clock);
            keepAlive.add(struct.clock);
        }
        if (parts.events != null) {
            struct.events = events(parts.events);
            keepAlive.add(struct.events);
        }
        keepAlive.add(struct);
        struct.write();
        return struct;
    }

    private static int failed(String op, Throwable e) {
        LOG.log(Level.WARNING, "passcode: the host store''s {0} failed ({1})", new Object[] {op, e.getClass().getName()});
        return PasscodeLibrary.STORE_FAILED;
    }

    private static PasscodeLibrary.StoreCallbacks store(HostStore store) {
        PasscodeLibrary.StoreCallbacks s = new PasscodeLibrary.StoreCallbacks();
        s.get = (ctx, key, now, found) -> {
            try {
                HostStore.Entry e = store.get(key.getByteArray(0, PasscodeLibrary.STORE_KEY_BYTES), now);
                if (e != null
                        && PasscodeLibrary.passcode_store_found_set(found, e.value(), e.value().length, e.version())
                                != 0) {
                    return failed("get (its value was refused)", new IllegalArgumentException());
                }
                return PasscodeLibrary.STORE_OK;
            } catch (Throwable t) {
                return failed("get", t);
            }
        };
        s.put = (ctx, key, value, len, ttl, expected, now, newVersion) -> {
            try {
                byte[] bytes = len == 0 ? new byte[0] : value.getByteArray(0, Math.toIntExact(len));
                long version =
                        store.put(key.getByteArray(0, PasscodeLibrary.STORE_KEY_BYTES), bytes, ttl, expected, now);
                if (version == 0) {
                    return PasscodeLibrary.STORE_CONFLICT;
                }
                newVersion.setValue(version);
                return PasscodeLibrary.STORE_OK;
            } catch (Throwable t) {
                return failed("put", t);
            }
        };
        s.remove = (ctx, key, version, now) -> {
            try {
                return store.remove(key.getByteArray(0, PasscodeLibrary.STORE_KEY_BYTES), version, now)
                        ? PasscodeLibrary.STORE_OK
                        : PasscodeLibrary.STORE_CONFLICT;
            } catch (Throwable t) {
                return failed("remove", t);
            }
        };
        return s;
    }

    private static PasscodeLibrary.ClockCallbacks clock(LongSupplier clock) {
        PasscodeLibrary.ClockCallbacks c = new PasscodeLibrary.ClockCallbacks();
        c.now = ctx -> {
            try {
                return clock.getAsLong();
            } catch (Throwable t) {
                LOG.log(Level.WARNING, "passcode: the host clock failed ({0}); using the system clock", t.getClass().getName());
                return System.currentTimeMillis() / 1000;
            }
        };
        return c;
    }

    /** The PasscodeDeliveryEventSink for a listener (null for none), and what to keep reachable. */
    static PasscodeLibrary.DeliverySinkStruct deliverySink(DeliveryListener listener, List<Object> keepAlive) {
        if (listener == null) {
            return null;
        }
        PasscodeLibrary.DeliverySinkStruct sink = new PasscodeLibrary.DeliverySinkStruct();
        sink.emit = (ctx, pointer) -> {
            try {
                listener.onEvent(deliveryEvent(new PasscodeLibrary.DeliveryEventStruct(pointer)));
            } catch (Throwable t) {
                LOG.log(Level.WARNING, "passcode: the host delivery listener failed ({0})", t.getClass().getName());
            }
        };
        sink.write();
        keepAlive.add(sink.emit);
        keepAlive.add(sink);
        return sink;
    }

    /** A Java copy of the event C passed (valid only during the callback). */
    private static DeliveryEvent deliveryEvent(PasscodeLibrary.DeliveryEventStruct raw) {
        return new DeliveryEvent(
                DeliveryEventKind.of(raw.kind),
                raw.at,
                PasscodeLibrary.utf8(raw.message_id, raw.message_id_len),
                Channel.of(raw.channel),
                Purpose.of(raw.purpose),
                PasscodeLibrary.utf8(raw.subject, raw.subject_len),
                PasscodeLibrary.utf8(raw.sender, raw.sender_len),
                raw.attempt,
                PasscodeLibrary.utf8(raw.provider_id, raw.provider_id_len),
                PasscodeLibrary.utf8(raw.reason, raw.reason_len),
                raw.status,
                PasscodeLibrary.utf8(raw.provider_code, raw.provider_code_len),
                raw.has_retry_in != 0 ? OptionalLong.of(raw.retry_in_ms) : OptionalLong.empty());
    }

    private static PasscodeLibrary.EventCallbacks events(Consumer<PasscodeEvent> sink) {
        PasscodeLibrary.EventCallbacks e = new PasscodeLibrary.EventCallbacks();
        e.emit = (ctx, pointer) -> {
            try {
                PasscodeLibrary.Event raw = new PasscodeLibrary.Event(pointer);
                String subject = PasscodeLibrary.utf8(raw.subject, raw.subject_len);
                sink.accept(new PasscodeEvent(
                        EventKind.of(raw.kind),
                        raw.at,
                        Channel.of(raw.channel),
                        Purpose.of(raw.purpose),
                        subject,
                        raw.has_attempts_left != 0 ? OptionalInt.of(raw.attempts_left) : OptionalInt.empty(),
                        raw.has_retry_after != 0 ? OptionalLong.of(raw.retry_after) : OptionalLong.empty(),
                        raw.scope,
                        raw.error));
            } catch (Throwable t) {
                LOG.log(Level.WARNING, "passcode: the host event sink failed ({0})", t.getClass().getName());
            }
        };
        return e;
    }
}
