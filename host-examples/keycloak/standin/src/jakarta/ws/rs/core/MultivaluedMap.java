package jakarta.ws.rs.core;

import java.util.List;
import java.util.Map;

/** Stand-in for Jakarta REST's multi-valued map (decoded form parameters). */
public interface MultivaluedMap<K, V> extends Map<K, List<V>> {
    /** The first value for the key, or null. */
    V getFirst(K key);

    /** Replaces the key's values with one value. */
    void putSingle(K key, V value);

    /** Adds a value to the key's values. */
    void add(K key, V value);
}
