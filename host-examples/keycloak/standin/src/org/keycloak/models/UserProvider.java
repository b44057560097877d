package org.keycloak.models;

/** Stand-in for Keycloak's UserProvider (the part the authenticator uses). */
public interface UserProvider {
    UserModel getUserByEmail(RealmModel realm, String email);

    UserModel addUser(RealmModel realm, String username);
}
