package passcode.jna;

import java.util.function.Predicate;

/** Finding a constant of the C ABI's small enums (Channel, Purpose) by its number or its name. */
final class Labelled {
    private Labelled() {}

    /** The first value that matches, or null. */
    static <E> E find(E[] values, Predicate<E> matches) {
        for (E v : values) {
            if (matches.test(v)) {
                return v;
            }
        }
        return null;
    }
}
