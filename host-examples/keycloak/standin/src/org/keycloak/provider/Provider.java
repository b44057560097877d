package org.keycloak.provider;

/** Stand-in for Keycloak's Provider: one per Keycloak session (request). */
public interface Provider {
    void close();
}
