package passcode.keycloak.runner;

import java.util.Map;
import java.util.UUID;
import java.util.concurrent.ConcurrentHashMap;
import org.keycloak.models.UserModel;
import org.keycloak.sessions.AuthenticationSessionModel;

/**
 * One login in one browser tab (Keycloak's AuthenticationSessionModel): its own notes, user and
 * execution statuses. A second tab is a second AuthSession, as in Keycloak.
 */
public final class AuthSession implements AuthenticationSessionModel {
    private final String tabId = UUID.randomUUID().toString().substring(0, 8);
    private final Map<String, String> notes = new ConcurrentHashMap<>();
    final Map<String, Boolean> succeeded = new ConcurrentHashMap<>();
    private volatile UserModel user;

    @Override
    public String getTabId() {
        return tabId;
    }

    @Override
    public UserModel getAuthenticatedUser() {
        return user;
    }

    @Override
    public void setAuthenticatedUser(UserModel user) {
        this.user = user;
    }

    @Override
    public String getAuthNote(String name) {
        return name == null ? null : notes.get(name);
    }

    @Override
    public void setAuthNote(String name, String value) {
        if (name != null && value != null) {
            notes.put(name, value);
        }
    }

    @Override
    public void removeAuthNote(String name) {
        if (name != null) {
            notes.remove(name);
        }
    }

    @Override
    public void clearAuthNotes() {
        notes.clear();
    }

    /**
     * A copy of this tab's state, as another Keycloak node reads it from the replicated
     * authentication-session cache: the same notes, user and passed executions.
     */
    public AuthSession replica() {
        AuthSession copy = new AuthSession();
        copy.notes.putAll(notes);
        copy.succeeded.putAll(succeeded);
        copy.user = user;
        return copy;
    }

    /** Every note, for tests that check what the session holds. */
    public Map<String, String> notes() {
        return Map.copyOf(notes);
    }
}
