package passcode.jna;

/** What an event says happened (PASSCODE_EVENT_KIND_*). */
public enum EventKind {
    ISSUED(1),
    RESENT(2),
    VERIFIED(3),
    FAILED(4),
    LOCKED(5),
    EXPIRED(6),
    RATE_LIMITED(7),
    BLOCKED(8),
    CANCELLED(9),
    UNLOCKED(10),
    REFUSED(11),
    /** A kind this binding has no name for (a newer library). */
    OTHER(-1);

    private final int number;

    EventKind(int number) {
        this.number = number;
    }

    /** The C ABI's value. */
    public int number() {
        return number;
    }

    /** The kind with this value, or OTHER. */
    public static EventKind of(int number) {
        for (EventKind k : values()) {
            if (k.number == number) {
                return k;
            }
        }
        return OTHER;
    }
}
