package passcode.jna;

/**
 * A verified code: who it was sent to and what for. The challenge is used up.
 *
 * @param identifier the normalised address or number
 * @param account the host's account id the code was issued for (issueForAccount), or null
 */
public record Verified(String identifier, Channel channel, Purpose purpose, String account) {
    @Override
    public String toString() {
        return "Verified[channel=" + channel + ", purpose=" + purpose + "]";
    }
}
