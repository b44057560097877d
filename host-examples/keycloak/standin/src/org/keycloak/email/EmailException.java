package org.keycloak.email;

/** Stand-in for Keycloak's EmailException. */
public class EmailException extends Exception {
    private static final long serialVersionUID = 1L;

    public EmailException(String message) {
        super(message);
    }

    public EmailException(String message, Throwable cause) {
        super(message, cause);
    }
}
