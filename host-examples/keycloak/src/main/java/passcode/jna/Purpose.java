package passcode.jna;

/** What a code is for (PASSCODE_PURPOSE_*); a code never verifies for another purpose. */
public enum Purpose {
    SIGN_UP(1, "sign-up"),
    SIGN_IN(2, "sign-in"),
    SECOND_FACTOR(3, "second-factor"),
    VERIFY_CONTACT(4, "verify-contact"),
    RECOVERY(5, "recovery");

    private final int number;
    private final String label;

    Purpose(int number, String label) {
        this.number = number;
        this.label = label;
    }

    /** The C ABI's value. */
    public int number() {
        return number;
    }

    /** The name in configs and vectors, e.g. "sign-in". */
    public String label() {
        return label;
    }

    /** The purpose with this C ABI value, or null. */
    public static Purpose of(int number) {
        return Labelled.find(values(), v -> v.number == number);
    }

    /** The purpose with this name ("sign-in", ...), or null. */
    public static Purpose named(String label) {
        return Labelled.find(values(), v -> v.label.equals(label));
    }
}
