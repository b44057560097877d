package org.keycloak.provider;

import java.util.List;

/** Stand-in for Keycloak's ConfiguredProvider: what the admin console shows to configure. */
public interface ConfiguredProvider {
    String getHelpText();

    List<ProviderConfigProperty> getConfigProperties();
}
