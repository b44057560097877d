package passcode.keycloak.runner;

import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import org.keycloak.models.KeycloakSession;
import org.keycloak.provider.Provider;

/** Keycloak's KeycloakSession as the runner plays it: the users and the providers it was given. */
public final class RunnerSession implements KeycloakSession {
    private final RunnerUsers users = new RunnerUsers();
    private final Map<Class<?>, Provider> providers = new ConcurrentHashMap<>();

    @Override
    public RunnerUsers users() {
        return users;
    }

    @Override
    public <T extends Provider> T getProvider(Class<T> clazz) {
        return clazz.cast(providers.get(clazz));
    }

    /** Registers the provider of a type (e.g. the Mailbox as EmailSenderProvider). */
    public <T extends Provider> RunnerSession provide(Class<T> type, T provider) {
        providers.put(type, provider);
        return this;
    }
}
