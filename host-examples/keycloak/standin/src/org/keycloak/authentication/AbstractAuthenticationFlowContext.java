package org.keycloak.authentication;

import jakarta.ws.rs.core.Response;
import org.keycloak.common.ClientConnection;
import org.keycloak.events.EventBuilder;
import org.keycloak.http.HttpRequest;
import org.keycloak.models.AuthenticatorConfigModel;
import org.keycloak.models.KeycloakSession;
import org.keycloak.models.RealmModel;
import org.keycloak.services.managers.BruteForceProtector;

/** Stand-in for Keycloak's AbstractAuthenticationFlowContext (the part the authenticator uses). */
public interface AbstractAuthenticationFlowContext {
    EventBuilder getEvent();

    RealmModel getRealm();

    ClientConnection getConnection();

    KeycloakSession getSession();

    HttpRequest getHttpRequest();

    BruteForceProtector getProtector();

    AuthenticatorConfigModel getAuthenticatorConfig();

    void success();

    void failure(AuthenticationFlowError error);

    void failure(AuthenticationFlowError error, Response response);

    void challenge(Response challenge);

    void forceChallenge(Response challenge);

    /** As forceChallenge, and the flow engine counts a failed login for brute-force detection. */
    void failureChallenge(AuthenticationFlowError error, Response challenge);

    void attempted();
}
