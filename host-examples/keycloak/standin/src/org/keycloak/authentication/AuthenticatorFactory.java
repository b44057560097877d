package org.keycloak.authentication;

import org.keycloak.provider.ProviderFactory;

/**
 * Stand-in for Keycloak's AuthenticatorFactory: one per server, listed in
 * META-INF/services/org.keycloak.authentication.AuthenticatorFactory.
 */
public interface AuthenticatorFactory extends ProviderFactory<Authenticator>, ConfigurableAuthenticatorFactory {}
