package passcode.keycloak.runner;

import jakarta.ws.rs.core.Response;
import org.keycloak.authentication.AuthenticationFlowContext;
import org.keycloak.authentication.AuthenticationFlowError;
import org.keycloak.common.ClientConnection;
import org.keycloak.events.EventBuilder;
import org.keycloak.forms.login.LoginFormsProvider;
import org.keycloak.http.HttpRequest;
import org.keycloak.models.AuthenticatorConfigModel;
import org.keycloak.models.KeycloakSession;
import org.keycloak.models.RealmModel;
import org.keycloak.models.UserModel;
import org.keycloak.services.managers.BruteForceProtector;
import org.keycloak.sessions.AuthenticationSessionModel;

/** One call of an authenticator by the runner: what it may read, and the outcome it sets. */
final class FlowContext implements AuthenticationFlowContext {
    /** The outcomes an authenticator can set (Keycloak's FlowStatus). */
    enum Status {
        SUCCESS,
        CHALLENGE,
        FORCE_CHALLENGE,
        FAILURE_CHALLENGE,
        FAILED,
        ATTEMPTED
    }

    private final FlowRunner runner;
    private final FlowRunner.Execution execution;
    private final AuthSession tab;
    private final HttpRequest request;
    private final ClientConnection connection;
    private final EventBuilder event;
    Status status;
    AuthenticationFlowError error;
    Response challenge;

    FlowContext(
            FlowRunner runner,
            FlowRunner.Execution execution,
            AuthSession tab,
            HttpRequest request,
            ClientConnection connection,
            EventBuilder event) {
        this.runner = runner;
        this.execution = execution;
        this.tab = tab;
        this.request = request;
        this.connection = connection;
        this.event = event;
    }

    @Override
    public UserModel getUser() {
        return tab.getAuthenticatedUser();
    }

    @Override
    public void setUser(UserModel user) {
        tab.setAuthenticatedUser(user);
    }

    @Override
    public AuthenticationSessionModel getAuthenticationSession() {
        return tab;
    }

    @Override
    public LoginFormsProvider form() {
        return new FormsProvider(execution.id());
    }

    @Override
    public EventBuilder getEvent() {
        return event;
    }

    @Override
    public RealmModel getRealm() {
        return runner.realm();
    }

    @Override
    public ClientConnection getConnection() {
        return connection;
    }

    @Override
    public KeycloakSession getSession() {
        return runner.session();
    }

    @Override
    public HttpRequest getHttpRequest() {
        return request;
    }

    @Override
    public BruteForceProtector getProtector() {
        return runner.protector();
    }

    @Override
    public AuthenticatorConfigModel getAuthenticatorConfig() {
        return execution.config();
    }

    @Override
    public void success() {
        status = Status.SUCCESS;
    }

    @Override
    public void failure(AuthenticationFlowError error) {
        failure(error, null);
    }

    @Override
    public void failure(AuthenticationFlowError error, Response response) {
        status = Status.FAILED;
        this.error = error;
        this.challenge = response;
    }

    @Override
    public void challenge(Response challenge) {
        status = Status.CHALLENGE;
        this.challenge = challenge;
    }

    @Override
    public void forceChallenge(Response challenge) {
        status = Status.FORCE_CHALLENGE;
        this.challenge = challenge;
    }

    @Override
    public void failureChallenge(AuthenticationFlowError error, Response challenge) {
        status = Status.FAILURE_CHALLENGE;
        this.error = error;
        this.challenge = challenge;
    }

    @Override
    public void attempted() {
        status = Status.ATTEMPTED;
    }
}
