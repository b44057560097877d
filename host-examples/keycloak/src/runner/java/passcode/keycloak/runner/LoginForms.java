package passcode.keycloak.runner;

import org.keycloak.authentication.AuthenticationFlowContext;
import org.keycloak.authentication.AuthenticationFlowError;
import org.keycloak.authentication.Authenticator;
import org.keycloak.events.Errors;
import org.keycloak.models.KeycloakSession;
import org.keycloak.models.RealmModel;
import org.keycloak.models.UserModel;

/**
 * Stand-ins of Keycloak's own first steps, which the Passcode authenticators follow in a flow:
 * the username form (auth-username-form) before a passwordless code, and the username-password
 * form (auth-username-password-form) before a second factor. Like Keycloak's, they set the user
 * before checking the password, so a wrong password is a failed login for that user.
 */
public final class LoginForms implements Authenticator {
    public static final String USERNAME_FORM = "login-username.ftl";
    public static final String PASSWORD_FORM = "login.ftl";

    private final boolean password;

    private LoginForms(boolean password) {
        this.password = password;
    }

    /** Keycloak's username form. */
    public static LoginForms usernameForm() {
        return new LoginForms(false);
    }

    /** Keycloak's username-password form. */
    public static LoginForms usernamePasswordForm() {
        return new LoginForms(true);
    }

    private String form() {
        return password ? PASSWORD_FORM : USERNAME_FORM;
    }

    @Override
    public void authenticate(AuthenticationFlowContext context) {
        context.challenge(context.form().createForm(form()));
    }

    @Override
    public void action(AuthenticationFlowContext context) {
        String username = context.getHttpRequest().getDecodedFormParameters().getFirst("username");
        RunnerSession session = (RunnerSession) context.getSession();
        RunnerUser user = username == null ? null : session.users().byUsernameOrEmail(context.getRealm(), username);
        if (user == null || !user.isEnabled()) {
            context.getEvent().error(Errors.USER_NOT_FOUND);
            context.failureChallenge(
                    AuthenticationFlowError.INVALID_USER, context.form().setError("invalidUserMessage").createForm(form()));
            return;
        }
        context.setUser(user);
        if (context.getRealm().isBruteForceProtected()
                && context.getProtector().isTemporarilyDisabled(session, context.getRealm(), user)) {
            context.getEvent().user(user).error(Errors.USER_TEMPORARILY_DISABLED);
            context.failure(
                    AuthenticationFlowError.USER_TEMPORARILY_DISABLED,
                    context.form().setError("accountTemporarilyDisabledMessage").createForm(form()));
            return;
        }
        if (password && !user.passwordIs(context.getHttpRequest().getDecodedFormParameters().getFirst("password"))) {
            context.getEvent().user(user).error(Errors.INVALID_USER_CREDENTIALS);
            context.failureChallenge(
                    AuthenticationFlowError.INVALID_CREDENTIALS,
                    context.form().setError("invalidUserMessage").createForm(form()));
            return;
        }
        context.success();
    }

    @Override
    public boolean requiresUser() {
        return false;
    }

    @Override
    public boolean configuredFor(KeycloakSession session, RealmModel realm, UserModel user) {
        return true;
    }

    @Override
    public void setRequiredActions(KeycloakSession session, RealmModel realm, UserModel user) {}

    @Override
    public void close() {}
}
