package passcode.jna;

/**
 * A code issued or re-sent, copied out of the library (whose copy is wiped at once). The code is
 * the secret: deliver it, never log it; toString() leaves it out.
 *
 * @param token the sealed challenge token, for the host's session (a resend returns the same)
 * @param code the code, for a host that delivers the message itself
 * @param recipient the normalised address or number to deliver to
 * @param expiresAt Unix seconds from which the code is refused
 * @param resendAt the earliest Unix second a resend is allowed
 */
public record Issued(
        String token,
        String code,
        String recipient,
        Channel channel,
        String smsText,
        String emailSubject,
        String emailText,
        String emailHtml,
        long expiresAt,
        long resendAt) {
    @Override
    public String toString() {
        return "Issued[channel=" + channel + ", expiresAt=" + expiresAt + ", resendAt=" + resendAt + "]";
    }
}
