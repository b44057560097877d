package org.keycloak.authentication;

import org.keycloak.models.KeycloakSession;
import org.keycloak.models.RealmModel;
import org.keycloak.models.UserModel;
import org.keycloak.provider.Provider;

/** Stand-in for Keycloak's Authenticator SPI (every abstract method of the real one). */
public interface Authenticator extends Provider {
    /** The first call for this execution: check the request, or send a challenge. */
    void authenticate(AuthenticationFlowContext context);

    /** A form posted to this execution. */
    void action(AuthenticationFlowContext context);

    /** Whether a user must be identified before this execution runs. */
    boolean requiresUser();

    /** Whether the user has what this authenticator needs. */
    boolean configuredFor(KeycloakSession session, RealmModel realm, UserModel user);

    /** Sets the required actions that would let the user configure it. */
    void setRequiredActions(KeycloakSession session, RealmModel realm, UserModel user);
}
