package passcode.keycloak.runner;

import java.util.Map;
import java.util.UUID;
import java.util.concurrent.ConcurrentHashMap;
import org.keycloak.models.UserModel;

/** A user as the runner plays it; the password is for the username-password form stand-in only. */
public final class RunnerUser implements UserModel {
    private final String id = UUID.randomUUID().toString();
    private final String username;
    private final Map<String, String> attributes = new ConcurrentHashMap<>();
    private volatile String email;
    private volatile boolean emailVerified;
    private volatile boolean enabled = true;
    private volatile String password;

    RunnerUser(String username) {
        this.username = username;
    }

    @Override
    public String getId() {
        return id;
    }

    @Override
    public String getUsername() {
        return username;
    }

    @Override
    public String getEmail() {
        return email;
    }

    @Override
    public void setEmail(String email) {
        this.email = email;
    }

    @Override
    public boolean isEmailVerified() {
        return emailVerified;
    }

    @Override
    public void setEmailVerified(boolean verified) {
        this.emailVerified = verified;
    }

    @Override
    public boolean isEnabled() {
        return enabled;
    }

    @Override
    public void setEnabled(boolean enabled) {
        this.enabled = enabled;
    }

    @Override
    public String getFirstAttribute(String name) {
        return attributes.get(name);
    }

    @Override
    public void setSingleAttribute(String name, String value) {
        attributes.put(name, value);
    }

    /** Sets the password the username-password form checks. */
    public RunnerUser password(String password) {
        this.password = password;
        return this;
    }

    boolean passwordIs(String typed) {
        return password != null && password.equals(typed);
    }
}
