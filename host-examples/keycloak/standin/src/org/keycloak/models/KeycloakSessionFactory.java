package org.keycloak.models;

/** Stand-in for Keycloak's KeycloakSessionFactory (given to postInit). */
public interface KeycloakSessionFactory {}
