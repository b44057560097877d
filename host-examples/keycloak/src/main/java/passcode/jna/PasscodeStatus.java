package passcode.jna;

import java.util.HashMap;
import java.util.Map;

/**
 * Every status of include/passcode.h, with its number (the same numbers on every Passcode
 * surface: the Rust crate's Error::number(), the C ABI, the WIT error). One line per status: a
 * number added to the header is one more line here (a test compares this table with the header).
 */
public enum PasscodeStatus {
    OK(0),
    INVALID_EMAIL(1001),
    INVALID_PHONE(1002),
    INPUT_TOO_LONG(1003),
    INVALID_UTF8(1004),
    INVALID_TOKEN(1005),
    CHANNEL_NOT_ALLOWED(1006),
    INVALID_CLIENT_ADDRESS(1007),
    INVALID_ARGUMENT(1008),
    CONFIG_SYNTAX(2001),
    UNKNOWN_CONFIG_FIELD(2002),
    POLICY_OUT_OF_BOUNDS(2003),
    WEAK_KEY(2004),
    KEY_UNAVAILABLE(2005),
    INVALID_TEMPLATE(2006),
    WRONG_CODE(3001),
    EXPIRED(3002),
    TOO_MANY_ATTEMPTS(3003),
    SUBJECT_LOCKED(3004),
    NOT_FOUND(3005),
    WRONG_CODE_LOCKED(3006),
    RESEND_TOO_SOON(4001),
    SEND_LIMIT(4002),
    DESTINATION_BLOCKED(4003),
    STORE_UNAVAILABLE(5001),
    CONTENTION(5002),
    CORRUPT_RECORD(5003),
    RANDOM_UNAVAILABLE(6001),
    CLOCK_OUT_OF_RANGE(6002),
    NULL_PARAMETER(7001),
    PANIC(7002),
    BUFFER_TOO_SMALL(7003),
    UNRECOGNISED(7004),
    DELIVERY_QUEUE_FULL(8001),
    NO_SENDER(8002),
    DELIVERY_STOPPED(8003),
    DELIVERY_FAILED(8004),
    /** A number this binding has no name for (a newer library): see PasscodeException.number(). */
    OTHER(-1);

    private static final Map<Integer, PasscodeStatus> BY_NUMBER = new HashMap<>();

    static {
        for (PasscodeStatus s : values()) {
            if (s != OTHER) {
                BY_NUMBER.put(s.number, s);
            }
        }
    }

    private final int number;

    PasscodeStatus(int number) {
        this.number = number;
    }

    /** The stable number (PASSCODE_STATUS_* in the header). */
    public int number() {
        return number;
    }

    /** The status with this number, or OTHER. */
    public static PasscodeStatus of(int number) {
        return BY_NUMBER.getOrDefault(number, OTHER);
    }

    /** The library's one-sentence text for a status number (never names a code, key or identifier). */
    public static String text(int number) {
        return PasscodeLibrary.statusText(number);
    }
}
