package org.keycloak.services.managers;

import org.keycloak.common.ClientConnection;
import org.keycloak.models.KeycloakSession;
import org.keycloak.models.RealmModel;
import org.keycloak.models.UserModel;
import org.keycloak.provider.Provider;

/**
 * Stand-in for Keycloak's BruteForceProtector: the flow engine reports each failed login to it
 * (Keycloak's also takes the request's UriInfo, which the runner has no use for).
 */
public interface BruteForceProtector extends Provider {
    void failedLogin(RealmModel realm, UserModel user, ClientConnection clientConnection);

    void successfulLogin(RealmModel realm, UserModel user, ClientConnection clientConnection);

    boolean isTemporarilyDisabled(KeycloakSession session, RealmModel realm, UserModel user);
}
