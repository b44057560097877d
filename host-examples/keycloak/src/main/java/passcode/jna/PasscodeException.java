package passcode.jna;

import java.util.OptionalInt;
import java.util.OptionalLong;

/**
 * A refusal or failure reported by libpasscode: the status, and the details of the C ABI's
 * PasscodeFailure (tries left after a wrong code; seconds to wait for locks and send limits).
 * Its message is the library's status text, which never holds a code, key or identifier.
 */
public class PasscodeException extends Exception {
    private static final long serialVersionUID = 1L;
    private final int number;
    private final Integer attemptsLeft;
    private final Long retryAfter;

    PasscodeException(int number, Integer attemptsLeft, Long retryAfter) {
        super(PasscodeStatus.text(number));
        this.number = number;
        this.attemptsLeft = attemptsLeft;
        this.retryAfter = retryAfter;
    }

    /** The status (OTHER for a number this binding does not name). */
    public PasscodeStatus status() {
        return PasscodeStatus.of(number);
    }

    /** The status number as the library returned it. */
    public int number() {
        return number;
    }

    /** Tries left on the challenge, for WRONG_CODE. */
    public OptionalInt attemptsLeft() {
        return attemptsLeft == null ? OptionalInt.empty() : OptionalInt.of(attemptsLeft);
    }

    /** Seconds to wait before trying again, for locks and send limits (none for a hard lock). */
    public OptionalLong retryAfter() {
        return retryAfter == null ? OptionalLong.empty() : OptionalLong.of(retryAfter);
    }
}
