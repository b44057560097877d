package org.keycloak.authentication;

import org.keycloak.forms.login.LoginFormsProvider;
import org.keycloak.models.UserModel;
import org.keycloak.sessions.AuthenticationSessionModel;

/** Stand-in for Keycloak's AuthenticationFlowContext (the part the authenticator uses). */
public interface AuthenticationFlowContext extends AbstractAuthenticationFlowContext {
    UserModel getUser();

    void setUser(UserModel user);

    AuthenticationSessionModel getAuthenticationSession();

    /** A form builder preset with the user, the action URL and a fresh access code. */
    LoginFormsProvider form();
}
