package org.keycloak.models;

/** Stand-in for Keycloak's AuthenticationExecutionModel (its Requirement enum). */
public class AuthenticationExecutionModel {
    public enum Requirement {
        REQUIRED,
        CONDITIONAL,
        ALTERNATIVE,
        DISABLED
    }
}
