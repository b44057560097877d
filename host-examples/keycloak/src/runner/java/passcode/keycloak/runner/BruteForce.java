package passcode.keycloak.runner;

import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicInteger;
import org.keycloak.common.ClientConnection;
import org.keycloak.models.KeycloakSession;
import org.keycloak.models.RealmModel;
import org.keycloak.models.UserModel;
import org.keycloak.services.managers.BruteForceProtector;

/**
 * The realm's brute-force detector as the runner plays it: counts the failed logins the flow
 * engine reports per user, and disables a user temporarily at the realm's failure factor (0: it
 * only counts), as Keycloak's does; a successful login clears the count.
 */
public final class BruteForce implements BruteForceProtector {
    private final int failureFactor;
    private final Map<String, AtomicInteger> failures = new ConcurrentHashMap<>();
    private final Map<String, AtomicInteger> total = new ConcurrentHashMap<>();

    public BruteForce(int failureFactor) {
        this.failureFactor = failureFactor;
    }

    @Override
    public void failedLogin(RealmModel realm, UserModel user, ClientConnection clientConnection) {
        failures.computeIfAbsent(user.getId(), k -> new AtomicInteger()).incrementAndGet();
        total.computeIfAbsent(user.getId(), k -> new AtomicInteger()).incrementAndGet();
    }

    @Override
    public void successfulLogin(RealmModel realm, UserModel user, ClientConnection clientConnection) {
        failures.remove(user.getId());
    }

    @Override
    public boolean isTemporarilyDisabled(KeycloakSession session, RealmModel realm, UserModel user) {
        AtomicInteger n = failures.get(user.getId());
        return failureFactor > 0 && n != null && n.get() >= failureFactor;
    }

    /** Every failed login reported for this user since the start. */
    public int failedLogins(UserModel user) {
        AtomicInteger n = total.get(user.getId());
        return n == null ? 0 : n.get();
    }

    @Override
    public void close() {}
}
