package passcode.jna;

/**
 * A verified code: who it was sent to and what for. The challenge is used up.
 *
 * @param identifier the normalised address or number
 */
public record Verified(String identifier, Channel channel, Purpose purpose) {
    @Override
    public String toString() {
        return "Verified[channel=" + channel + ", purpose=" + purpose + "]";
    }
}
