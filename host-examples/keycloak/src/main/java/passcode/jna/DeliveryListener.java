package passcode.jna;

/**
 * Hears what happens to each message a PasscodeDelivery sends. It is called from delivery's own
 * native worker threads (and, for QUEUED, from the thread that queued the message), concurrently:
 * it must be thread-safe and quick, and must not call back into the delivery or close it. An
 * exception it throws is logged (its class only) and dropped; it never reaches C.
 */
@FunctionalInterface
public interface DeliveryListener {
    void onEvent(DeliveryEvent event);
}
