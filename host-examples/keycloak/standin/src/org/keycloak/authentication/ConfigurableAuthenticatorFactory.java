package org.keycloak.authentication;

import org.keycloak.models.AuthenticationExecutionModel;
import org.keycloak.provider.ConfiguredProvider;

/** Stand-in for Keycloak's ConfigurableAuthenticatorFactory (every abstract method of the real one). */
public interface ConfigurableAuthenticatorFactory extends ConfiguredProvider {
    AuthenticationExecutionModel.Requirement[] REQUIREMENT_CHOICES = {
        AuthenticationExecutionModel.Requirement.REQUIRED,
        AuthenticationExecutionModel.Requirement.ALTERNATIVE,
        AuthenticationExecutionModel.Requirement.DISABLED
    };

    String getDisplayType();

    String getReferenceCategory();

    boolean isConfigurable();

    AuthenticationExecutionModel.Requirement[] getRequirementChoices();

    boolean isUserSetupAllowed();
}
