package passcode.keycloak.runner;

import java.util.Locale;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import org.keycloak.models.RealmModel;
import org.keycloak.models.UserModel;
import org.keycloak.models.UserProvider;

/** The realm's users, as Keycloak's user store: usernames and emails looked up case-insensitively. */
public final class RunnerUsers implements UserProvider {
    private final Map<String, RunnerUser> byUsername = new ConcurrentHashMap<>();

    @Override
    public UserModel getUserByEmail(RealmModel realm, String email) {
        String e = email.toLowerCase(Locale.ROOT);
        return byUsername.values().stream()
                .filter(u -> u.getEmail() != null && u.getEmail().toLowerCase(Locale.ROOT).equals(e))
                .findFirst()
                .orElse(null);
    }

    @Override
    public RunnerUser addUser(RealmModel realm, String username) {
        RunnerUser user = new RunnerUser(username.toLowerCase(Locale.ROOT));
        if (byUsername.putIfAbsent(user.getUsername(), user) != null) {
            throw new IllegalStateException("username in use");
        }
        return user;
    }

    /** The user with this username or email, or null (as Keycloak's login forms look users up). */
    public RunnerUser byUsernameOrEmail(RealmModel realm, String name) {
        RunnerUser u = byUsername.get(name.toLowerCase(Locale.ROOT));
        return u != null ? u : (RunnerUser) getUserByEmail(realm, name);
    }

    public int count() {
        return byUsername.size();
    }
}
