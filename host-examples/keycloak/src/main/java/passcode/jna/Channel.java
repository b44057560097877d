package passcode.jna;

/** How a code travels (PASSCODE_CHANNEL_*). */
public enum Channel {
    EMAIL(1, "email"),
    SMS(2, "sms");

    private final int number;
    private final String label;

    Channel(int number, String label) {
        this.number = number;
        this.label = label;
    }

    /** The C ABI's value. */
    public int number() {
        return number;
    }

    /** The name in configs and vectors: "email" or "sms". */
    public String label() {
        return label;
    }

    /** The channel with this C ABI value, or null. */
    public static Channel of(int number) {
        return Labelled.find(values(), v -> v.number == number);
    }

    /** The channel with this name ("email", "sms"), or null. */
    public static Channel named(String label) {
        return Labelled.find(values(), v -> v.label.equals(label));
    }
}
