package passcode.keycloak;

import java.io.Serializable;
import java.security.SecureRandom;
import java.util.Arrays;
import java.util.HexFormat;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ConcurrentMap;
import java.util.concurrent.atomic.AtomicLong;
import passcode.jna.HostStore;

/**
 * The engine's store contract (one key, compare-and-swap, expiry) over a ConcurrentMap: the
 * realm-style store. Here the map is a ConcurrentHashMap standing in for Keycloak's distributed
 * cache; Infinispan's Cache is a ConcurrentMap whose putIfAbsent, replace(key, old, new) and
 * remove(key, old) are atomic across the cluster, which is all this class uses, so a Keycloak
 * deployment passes its cache instead (README.md shows how).
 *
 * <p>Entries compare by value (bytes, version, expiry), so a conditional replace fails if anything
 * changed in between. Versions come from one counter started at a random point, so they are never
 * 0 and never repeat for a key, even after a delete or an expiry (no ABA). Expired entries read as
 * absent and are swept, a bounded slice at a time, as writes go by. Keys are the engine's 32-byte
 * keyed hashes as hex: the map holds no address, number or code.
 */
public final class RealmStore implements HostStore {
    /** One stored record: immutable, compared by value (what a conditional replace compares). */
    public static final class Entry implements Serializable {
        private static final long serialVersionUID = 1L;
        final byte[] value;
        final long version;
        /** Unix seconds from which the entry is gone; Long.MAX_VALUE for never. */
        final long expiresAt;

        Entry(byte[] value, long version, long expiresAt) {
            this.value = value;
            this.version = version;
            this.expiresAt = expiresAt;
        }

        boolean liveAt(long now) {
            return now < expiresAt;
        }

        @Override
        public boolean equals(Object o) {
            return o instanceof Entry e
                    && e.version == version
                    && e.expiresAt == expiresAt
                    && Arrays.equals(e.value, value);
        }

        @Override
        public int hashCode() {
            return Long.hashCode(version) * 31 + Arrays.hashCode(value);
        }
    }

    /** How many writes between two sweeps, and how many entries one sweep looks at. */
    private static final int SWEEP_EVERY = 1024;

    private static final int SWEEP_SLICE = 4096;

    private final ConcurrentMap<String, Entry> map;
    private final AtomicLong versions;
    private final AtomicLong writes = new AtomicLong();

    /** A store over a fresh map (one Keycloak node with no cluster). */
    public RealmStore() {
        this(new ConcurrentHashMap<>());
    }

    /** A store over a shared map: every store over the same map sees the same records. */
    public RealmStore(ConcurrentMap<String, Entry> map) {
        this.map = map;
        // A random start in [1, 2^62): two nodes counting from different points do not collide
        // in practice, and entries compare by value besides.
        this.versions = new AtomicLong(1 + (new SecureRandom().nextLong() >>> 2));
    }

    /** How many records the map holds (live or not yet swept). */
    public int size() {
        return map.size();
    }

    private static String name(byte[] key) {
        return HexFormat.of().formatHex(key);
    }

    @Override
    public HostStore.Entry get(byte[] key, long now) {
        Entry e = map.get(name(key));
        return e != null && e.liveAt(now) ? new HostStore.Entry(e.value, e.version) : null;
    }

    @Override
    public long put(byte[] key, byte[] value, long ttlSeconds, long expectedVersion, long now) {
        String k = name(key);
        long expiresAt = ttlSeconds == 0 ? Long.MAX_VALUE : saturatingAdd(now, ttlSeconds);
        Entry next = new Entry(value.clone(), versions.incrementAndGet(), expiresAt);
        Entry current = map.get(k);
        boolean written;
        if (expectedVersion == 0) {
            if (current == null) {
                written = map.putIfAbsent(k, next) == null;
            } else {
                // "Absent" includes expired: replace the dead entry, but only that one.
                written = !current.liveAt(now) && map.replace(k, current, next);
            }
        } else {
            written = current != null
                    && current.liveAt(now)
                    && current.version == expectedVersion
                    && map.replace(k, current, next);
        }
        if (written && writes.incrementAndGet() % SWEEP_EVERY == 0) {
            sweep(now);
        }
        return written ? next.version : 0;
    }

    @Override
    public boolean remove(byte[] key, long version, long now) {
        String k = name(key);
        Entry current = map.get(k);
        return current != null && current.liveAt(now) && current.version == version && map.remove(k, current);
    }

    /** Drops up to a slice of expired entries (each only if unchanged since it was seen). */
    private void sweep(long now) {
        int seen = 0;
        for (var e : map.entrySet()) {
            if (++seen > SWEEP_SLICE) {
                break;
            }
            if (!e.getValue().liveAt(now)) {
                map.remove(e.getKey(), e.getValue());
            }
        }
    }

    private static long saturatingAdd(long a, long b) {
        long sum = a + b;
        return (sum < a || sum < 0) ? Long.MAX_VALUE : sum;
    }
}
