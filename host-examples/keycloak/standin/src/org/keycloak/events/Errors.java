package org.keycloak.events;

/** Stand-in for Keycloak's Errors: the error strings of login events (same values). */
public interface Errors {
    String INVALID_USER_CREDENTIALS = "invalid_user_credentials";
    String EXPIRED_CODE = "expired_code";
    String INVALID_CODE = "invalid_code";
    String USER_TEMPORARILY_DISABLED = "user_temporarily_disabled";
    String USER_NOT_FOUND = "user_not_found";
    String EMAIL_IN_USE = "email_in_use";
    String EMAIL_SEND_FAILED = "email_send_failed";
    String INVALID_EMAIL = "invalid_email";
    String INVALID_REGISTRATION = "invalid_registration";
}
