package passcode.jna;

import java.util.OptionalInt;
import java.util.OptionalLong;

/**
 * One engine event, copied out of the C callback. It never carries a code or an identifier.
 *
 * @param at Unix seconds by the engine's clock
 * @param purpose null when none applies (an unlock)
 * @param subject the subject's pseudonym: 16 hex digits, stable for one index key
 * @param scope which send bucket refused a send (PasscodeLimitScope), or 0
 * @param error for an event that stands for a refusal, its status number; 0 for a success
 */
public record PasscodeEvent(
        EventKind kind,
        long at,
        Channel channel,
        Purpose purpose,
        String subject,
        OptionalInt attemptsLeft,
        OptionalLong retryAfter,
        int scope,
        int error) {}
