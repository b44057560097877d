package passcode.keycloak;

import java.util.List;
import org.keycloak.Config;
import org.keycloak.authentication.Authenticator;
import org.keycloak.authentication.AuthenticatorFactory;
import org.keycloak.models.AuthenticationExecutionModel;
import org.keycloak.models.KeycloakSession;
import org.keycloak.models.KeycloakSessionFactory;
import org.keycloak.provider.ProviderConfigProperty;

/**
 * What the three Passcode authenticators share as Keycloak factories. Keycloak asks an
 * authenticator whether it needs a user, and whether the user is configured for it, before any
 * config is at hand; so the destination is the factory's, one factory per destination (the
 * user's email, the user's phone number, an address typed at sign-up or at sign-in), and the rest
 * is the execution's config. The node's engines are shared by all three.
 */
public abstract class PasscodeAuthenticatorFactory implements AuthenticatorFactory {
    /** The server setting (spi-authenticator-ID-phone-attribute) naming the phone number's user attribute. */
    public static final String PHONE_ATTRIBUTE = "phone-attribute";

    private final PasscodeAuthenticator.Mode mode;
    private final boolean sharedEngines;
    private Engines engines;
    private String phoneAttribute = "phoneNumber";

    /** For Keycloak (through META-INF/services): the node's shared engines. */
    PasscodeAuthenticatorFactory(PasscodeAuthenticator.Mode mode) {
        this.mode = mode;
        this.sharedEngines = true;
    }

    /** For the runner and tests: engines on their own clock and store. */
    PasscodeAuthenticatorFactory(PasscodeAuthenticator.Mode mode, Engines engines) {
        this.mode = mode;
        this.sharedEngines = false;
        this.engines = engines;
    }

    @Override
    public Authenticator create(KeycloakSession session) {
        return new PasscodeAuthenticator(engines, mode, phoneAttribute);
    }

    @Override
    public void init(Config.Scope config) {
        if (config != null) {
            phoneAttribute = config.get(PHONE_ATTRIBUTE, phoneAttribute);
        }
        if (sharedEngines && engines == null) {
            engines = Engines.acquireShared();
        }
    }

    @Override
    public void postInit(KeycloakSessionFactory factory) {}

    @Override
    public void close() {
        if (sharedEngines && engines != null) {
            engines = null;
            Engines.releaseShared();
        }
    }

    @Override
    public String getReferenceCategory() {
        return "passcode";
    }

    @Override
    public boolean isConfigurable() {
        return true;
    }

    @Override
    public AuthenticationExecutionModel.Requirement[] getRequirementChoices() {
        return REQUIREMENT_CHOICES;
    }

    @Override
    public boolean isUserSetupAllowed() {
        return false;
    }

    @Override
    public List<ProviderConfigProperty> getConfigProperties() {
        return PasscodeSettings.properties(mode.channel, mode.purposes, mode.deliveries);
    }
}
