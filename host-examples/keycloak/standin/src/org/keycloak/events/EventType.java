package org.keycloak.events;

/** Stand-in for Keycloak's EventType (the types these flows raise). */
public enum EventType {
    LOGIN,
    LOGIN_ERROR,
    REGISTER,
    REGISTER_ERROR,
    SEND_VERIFY_EMAIL,
    SEND_VERIFY_EMAIL_ERROR
}
