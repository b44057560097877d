package org.keycloak.forms.login;

import jakarta.ws.rs.core.Response;
import org.keycloak.provider.Provider;

/** Stand-in for Keycloak's LoginFormsProvider: renders a theme's FreeMarker template as a page. */
public interface LoginFormsProvider extends Provider {
    Response createForm(String form);

    LoginFormsProvider setError(String message, Object... parameters);

    LoginFormsProvider setInfo(String message, Object... parameters);

    LoginFormsProvider setAttribute(String name, Object value);
}
