package org.keycloak.models;

import org.keycloak.provider.Provider;

/** Stand-in for Keycloak's KeycloakSession: one request's view of the server. */
public interface KeycloakSession {
    /** The realm's users. */
    UserProvider users();

    /** The provider of this type (e.g. the realm's EmailSenderProvider), or null. */
    <T extends Provider> T getProvider(Class<T> clazz);
}
