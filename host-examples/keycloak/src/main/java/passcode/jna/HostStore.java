package passcode.jna;

/**
 * A store written by the host: the engine's store contract (one key, compare-and-swap, expiry),
 * called through the C ABI's store callbacks. The engine calls it from every thread that calls the
 * engine, concurrently: it must be thread-safe and each key's operations linearizable. Keys are 32
 * bytes (a keyed hash: never an address, number or code). Versions are chosen by the store: never
 * 0, never reused for a key, even after a delete or an expiry. An exception fails the engine's
 * operation closed (STORE_UNAVAILABLE); it is never accepted as a success.
 */
public interface HostStore {
    /** A stored value and its version. */
    record Entry(byte[] value, long version) {}

    /** The live value under key as of now (Unix seconds), or null if absent or expired. */
    Entry get(byte[] key, long now) throws Exception;

    /**
     * Writes value under key if the key is as expected (expectedVersion 0: absent or expired;
     * otherwise: holds that version). ttlSeconds 0 means no expiry. Returns the new version, or 0
     * when the key was not as expected (nothing written).
     */
    long put(byte[] key, byte[] value, long ttlSeconds, long expectedVersion, long now) throws Exception;

    /** Deletes key if it holds version; false if it holds another or is gone. */
    boolean remove(byte[] key, long version, long now) throws Exception;
}
