package passcode.jna;

import java.util.function.Consumer;
import java.util.function.LongSupplier;

/**
 * What the host brings instead of the engine's defaults (PasscodeHostParts): a store, a clock,
 * an event sink. Each is optional: without a store the engine opens the one its config names (the
 * built-in memory store, or Redis with {@code store = "redis://..."}); without a clock it uses the
 * system's; without a sink events are dropped. All three are called from whichever threads call
 * the engine, concurrently, and must not call back into the engine.
 */
public final class HostParts {
    HostStore store;
    LongSupplier clock;
    Consumer<PasscodeEvent> events;

    /** The host's store (refused together with a config that names a shared store). */
    public HostParts store(HostStore store) {
        this.store = store;
        return this;
    }

    /** The host's clock, in Unix seconds. */
    public HostParts clock(LongSupplier nowSeconds) {
        this.clock = nowSeconds;
        return this;
    }

    /** Where events go; they carry a pseudonym, never a code or an identifier. */
    public HostParts events(Consumer<PasscodeEvent> sink) {
        this.events = sink;
        return this;
    }
}
