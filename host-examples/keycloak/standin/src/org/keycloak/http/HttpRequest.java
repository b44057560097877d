package org.keycloak.http;

import jakarta.ws.rs.core.MultivaluedMap;

/** Stand-in for Keycloak's HttpRequest. */
public interface HttpRequest {
    String getHttpMethod();

    MultivaluedMap<String, String> getDecodedFormParameters();
}
