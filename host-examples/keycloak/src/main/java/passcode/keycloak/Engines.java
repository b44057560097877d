package passcode.keycloak;

import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.function.Consumer;
import java.util.function.LongSupplier;
import java.util.logging.Level;
import java.util.logging.Logger;
import passcode.jna.DeliveryEvent;
import passcode.jna.DeliveryListener;
import passcode.jna.HostParts;
import passcode.jna.PasscodeDelivery;
import passcode.jna.PasscodeEngine;
import passcode.jna.PasscodeEvent;
import passcode.jna.PasscodeException;

/**
 * The engines of one Keycloak node: one per distinct realm config (the realm is the config's
 * tenant), opened on first use and shared by every request and thread, because opening reads key
 * files and may connect to Redis. All engines of the realm-style store share one RealmStore, as
 * all realms share Keycloak's cache. Likewise one libpasscode delivery per distinct delivery
 * config ({@code delivery = passcode}), with its senders' connections and worker threads. Engine
 * and delivery events go to the log (pseudonyms and message ids, never a code or an address) and
 * to any listener added.
 */
public final class Engines implements AutoCloseable {
    private static final Logger EVENTS = Logger.getLogger("passcode.events");
    private static final Logger DELIVERY = Logger.getLogger("passcode.delivery");
    private static Engines shared;
    private static int sharedUsers;

    private final LongSupplier clock;
    private final RealmStore realmStore;
    private final Map<String, PasscodeEngine> byConfig = new ConcurrentHashMap<>();
    private final Map<String, PasscodeDelivery> deliveries = new ConcurrentHashMap<>();
    private final List<Consumer<PasscodeEvent>> listeners = new CopyOnWriteArrayList<>();
    private final List<DeliveryListener> deliveryListeners = new CopyOnWriteArrayList<>();

    /**
     * Engines on a clock (Unix seconds) and a realm store: tests and the runner give their own;
     * Keycloak's factories use shared().
     */
    public Engines(LongSupplier clock, RealmStore realmStore) {
        this.clock = clock;
        this.realmStore = realmStore;
    }

    /** The node's engines, on the system clock; each factory that acquires them releases them on close. */
    static synchronized Engines acquireShared() {
        if (shared == null) {
            shared = new Engines(() -> System.currentTimeMillis() / 1000, new RealmStore());
        }
        sharedUsers++;
        return shared;
    }

    /** Releases one use of shared(); the last closes the engines. */
    static synchronized void releaseShared() {
        if (--sharedUsers == 0 && shared != null) {
            shared.close();
            shared = null;
        }
    }

    /** The engines' clock: Unix seconds. */
    public long now() {
        return clock.getAsLong();
    }

    /** The realm-style store every engine without Redis shares. */
    public RealmStore realmStore() {
        return realmStore;
    }

    /** Adds a listener for the engines' events. */
    public void addEventListener(Consumer<PasscodeEvent> listener) {
        listeners.add(listener);
    }

    /** Adds a listener for the deliveries' events (called from delivery's own threads). */
    public void addDeliveryListener(DeliveryListener listener) {
        deliveryListeners.add(listener);
    }

    /** The engine for these settings, opened on first use. */
    PasscodeEngine engine(PasscodeSettings settings) throws PasscodeException {
        PasscodeEngine engine = byConfig.get(settings.engineConfig());
        if (engine != null) {
            return engine;
        }
        synchronized (byConfig) {
            engine = byConfig.get(settings.engineConfig());
            if (engine == null) {
                HostParts parts = new HostParts().clock(clock).events(this::emit);
                if (!settings.redis()) {
                    parts.store(realmStore);
                }
                engine = PasscodeEngine.open(settings.engineConfig(), parts);
                byConfig.put(settings.engineConfig(), engine);
            }
            return engine;
        }
    }

    /** The delivery for these settings (delivery = passcode), opened on first use; null for other deliveries. */
    PasscodeDelivery delivery(PasscodeSettings settings) throws PasscodeException {
        String config = settings.deliveryConfig();
        if (config == null) {
            return null;
        }
        PasscodeDelivery delivery = deliveries.get(config);
        if (delivery != null) {
            return delivery;
        }
        synchronized (byConfig) {
            delivery = deliveries.get(config);
            if (delivery == null) {
                delivery = PasscodeDelivery.open(config, this::delivered);
                deliveries.put(config, delivery);
            }
            return delivery;
        }
    }

    private void delivered(DeliveryEvent e) {
        // A message given up is an operator's problem (the user only sees no code arrive); a
        // retry is worth a line; the rest is for audit at FINE. The provider's own code and
        // status say why; the subject is a pseudonym.
        Level level = switch (e.kind()) {
            case FAILED -> Level.WARNING;
            case RETRIED -> Level.INFO;
            default -> Level.FINE;
        };
        DELIVERY.log(level, "passcode delivery {0} {1} {2} {3} subject={4} sender={5} attempt={6} reason={7} status={8} provider-code={9}",
                new Object[] {
                    e.kind(), e.messageId(), e.channel(), e.purpose(), e.subject(), e.sender(), e.attempt(), e.reason(),
                    e.status(), e.providerCode()
                });
        for (DeliveryListener l : deliveryListeners) {
            l.onEvent(e);
        }
    }

    private void emit(PasscodeEvent e) {
        // Locks and refused sends are worth an operator's attention; the rest is for audit at FINE.
        Level level = switch (e.kind()) {
            case LOCKED, RATE_LIMITED, BLOCKED, UNLOCKED -> Level.INFO;
            default -> Level.FINE;
        };
        EVENTS.log(level, "passcode {0} {1} subject={2}", new Object[] {e.kind(), e.purpose(), e.subject()});
        for (Consumer<PasscodeEvent> l : listeners) {
            l.accept(e);
        }
    }

    /**
     * Closes every engine (each waits for its calls in progress), then every delivery (each
     * drains its queue for at most its {@code delivery.shutdown_ms}).
     */
    @Override
    public void close() {
        synchronized (byConfig) {
            byConfig.values().forEach(PasscodeEngine::close);
            byConfig.clear();
            deliveries.values().forEach(PasscodeDelivery::close);
            deliveries.clear();
        }
    }
}
