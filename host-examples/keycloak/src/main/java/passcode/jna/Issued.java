package passcode.jna;

/**
 * A code issued or re-sent, copied out of the library (whose copy is wiped at once). The code is
 * the secret: deliver it, never log it; toString() leaves it and the recipient out.
 *
 * @param token the sealed challenge token, for the host's session (a resend returns the same)
 * @param code the code, for a host that delivers the message itself
 * @param recipient the normalised address or number to deliver to
 * @param purpose what the code is for
 * @param subject the subject's pseudonym (16 hex digits, as in engine and delivery events): what
 *     a host's own logs may name instead of the recipient
 * @param expiresAt Unix seconds from which the code is refused
 * @param resendAt the earliest Unix second a resend is allowed
 */
public record Issued(
        String token,
        String code,
        String recipient,
        Channel channel,
        Purpose purpose,
        String subject,
        String smsText,
        String emailSubject,
        String emailText,
        String emailHtml,
        long expiresAt,
        long resendAt) {
    @Override
    public String toString() {
        return "Issued[channel=" + channel + ", purpose=" + purpose + ", subject=" + subject + ", expiresAt=" + expiresAt
                + ", resendAt=" + resendAt + "]";
    }
}
