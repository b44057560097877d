package passcode.jna;

import java.util.OptionalLong;

/**
 * One step of one message, copied out of the C ABI's PasscodeDeliveryEvent. It never holds the
 * code, the address, the number or a provider's own text (which often repeats the number).
 *
 * @param at Unix seconds
 * @param messageId the message's id ({@code msg_} and 32 hex digits), the same in every event about it
 * @param subject the subject's pseudonym, as in engine events and {@link Issued#subject()}
 * @param sender the sender of the attempt ({@code email}, {@code sms}, {@code sms_fallback},
 *     {@code webhook}, {@code outbox}); empty for QUEUED
 * @param attempt the attempt's number on that sender, from 1 (0 for QUEUED)
 * @param providerId the provider's id for the message, for SENT (empty if it gave none)
 * @param reason why, for RETRIED and FAILED: {@code not-sent}, {@code busy}, {@code outcome-unknown},
 *     {@code refused}, {@code rejected}, {@code deadline}, {@code queue-full} or {@code shutdown}; else empty
 * @param status the HTTP status or SMTP reply code of the failed attempt, or 0
 * @param providerCode the provider's error code of the failed attempt (e.g. {@code 21211}), or empty
 * @param retryInMs milliseconds until the next attempt, for RETRIED
 */
public record DeliveryEvent(
        DeliveryEventKind kind,
        long at,
        String messageId,
        Channel channel,
        Purpose purpose,
        String subject,
        String sender,
        int attempt,
        String providerId,
        String reason,
        int status,
        String providerCode,
        OptionalLong retryInMs) {}
