package passcode.jna;

/** What happened to a message (PASSCODE_DELIVERY_EVENT_KIND_*). */
public enum DeliveryEventKind {
    /** It was queued (reported on the thread that queued it, before any worker can take it). */
    QUEUED(1),
    /** An attempt failed and another follows, after a wait or on the next sender. */
    RETRIED(2),
    /** A provider took it. */
    SENT(3),
    /** It was given up: refused for good, every sender failed, the deadline passed, or delivery shut down first. */
    FAILED(4),
    /** A kind this binding has no name for (a newer library). */
    OTHER(-1);

    private final int number;

    DeliveryEventKind(int number) {
        this.number = number;
    }

    /** The C ABI's value. */
    public int number() {
        return number;
    }

    /** The kind with this value, or OTHER. */
    public static DeliveryEventKind of(int number) {
        DeliveryEventKind k = Labelled.find(values(), v -> v.number == number);
        return k == null ? OTHER : k;
    }
}
