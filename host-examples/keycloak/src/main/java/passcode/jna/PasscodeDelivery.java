package passcode.jna;

import com.sun.jna.Pointer;
import com.sun.jna.ptr.PointerByReference;
import java.util.ArrayList;
import java.util.List;

/**
 * Delivery (PasscodeDelivery in the C ABI): the senders a config's {@code [delivery]} section names
 * (SMTP, an SMS provider's Messages API, a signed webhook, or the development outbox) and the bounded
 * queue their native worker threads take messages from. Messages are queued by
 * {@link PasscodeEngine#issueAndSend} and {@link PasscodeEngine#resendAndSend}; what becomes of each
 * is told to the listener, from delivery's threads.
 *
 * <p>Safe to share between threads. close() stops taking messages, waits for calls in progress,
 * then lets the workers drain the queue for at most the config's {@code delivery.shutdown_ms}
 * (what is left is given up, a FAILED event with reason {@code shutdown} each). The listener is
 * kept reachable until then: C calls it until the native object is freed.
 *
 * <p>There is no {@code send(Issued)}: an Issued is a copy whose native original was freed (and
 * its code wiped) when it was returned, and issue-and-send takes the queue's place before the code
 * exists, which a send after the fact cannot.
 */
public final class PasscodeDelivery extends NativeHandle {
    private PasscodeDelivery(Pointer pointer, List<Object> keepAlive) {
        super(pointer, PasscodeLibrary::passcode_delivery_free, keepAlive);
    }

    /** Opens delivery from a config (the same TOML or JSON text as PasscodeEngine.open), with no listener. */
    public static PasscodeDelivery open(String config) throws PasscodeException {
        return open(config, null);
    }

    /**
     * Opens delivery from a config: builds its senders, reads their secrets from the environment
     * variables and files the config names (never from literals), and starts its worker threads.
     *
     * @param listener null, or what hears every delivery event (see DeliveryListener)
     */
    public static PasscodeDelivery open(String config, DeliveryListener listener) throws PasscodeException {
        List<Object> keepAlive = new ArrayList<>();
        PasscodeLibrary.DeliverySinkStruct sink = Callbacks.deliverySink(listener, keepAlive);
        byte[] text = PasscodeEngine.utf8(config);
        PointerByReference out = new PointerByReference();
        int status = PasscodeLibrary.passcode_delivery_new(text, text.length, sink, out);
        if (status != 0) {
            throw new PasscodeException(status, null, null);
        }
        return new PasscodeDelivery(out.getValue(), keepAlive);
    }
}
