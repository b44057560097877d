package org.keycloak.sessions;

import org.keycloak.models.UserModel;

/**
 * Stand-in for Keycloak's AuthenticationSessionModel: the state of one login in one browser tab.
 * Auth notes live only as long as the login.
 */
public interface AuthenticationSessionModel {
    String getTabId();

    UserModel getAuthenticatedUser();

    void setAuthenticatedUser(UserModel user);

    String getAuthNote(String name);

    void setAuthNote(String name, String value);

    void removeAuthNote(String name);

    void clearAuthNotes();
}
