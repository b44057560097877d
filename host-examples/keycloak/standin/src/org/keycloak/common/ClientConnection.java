package org.keycloak.common;

/** Stand-in for Keycloak's ClientConnection. */
public interface ClientConnection {
    String getRemoteAddr();

    String getRemoteHost();
}
