package org.keycloak.models;

/** Stand-in for Keycloak's UserModel (the part the authenticator uses). */
public interface UserModel {
    String getId();

    String getUsername();

    String getEmail();

    void setEmail(String email);

    boolean isEmailVerified();

    void setEmailVerified(boolean verified);

    boolean isEnabled();

    void setEnabled(boolean enabled);

    String getFirstAttribute(String name);

    void setSingleAttribute(String name, String value);
}
