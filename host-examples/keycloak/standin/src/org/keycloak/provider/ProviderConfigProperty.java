package org.keycloak.provider;

import java.util.Arrays;
import java.util.List;

/** Stand-in for Keycloak's ProviderConfigProperty: one field of an authenticator's config. */
public class ProviderConfigProperty {
    public static final String BOOLEAN_TYPE = "boolean";
    public static final String STRING_TYPE = "String";
    public static final String LIST_TYPE = "List";
    public static final String PASSWORD = "Password";

    protected String name;
    protected String label;
    protected String helpText;
    protected String type = STRING_TYPE;
    protected Object defaultValue;
    protected List<String> options;
    protected boolean secret;

    public ProviderConfigProperty() {}

    public ProviderConfigProperty(String name, String label, String helpText, String type, Object defaultValue) {
        this.name = name;
        this.label = label;
        this.helpText = helpText;
        this.type = type;
        this.defaultValue = defaultValue;
    }

    public ProviderConfigProperty(
            String name, String label, String helpText, String type, Object defaultValue, String... options) {
        this(name, label, helpText, type, defaultValue);
        this.options = Arrays.asList(options);
    }

    public String getName() {
        return name;
    }

    public String getLabel() {
        return label;
    }

    public String getHelpText() {
        return helpText;
    }

    public String getType() {
        return type;
    }

    public Object getDefaultValue() {
        return defaultValue;
    }

    public List<String> getOptions() {
        return options;
    }

    public boolean isSecret() {
        return secret;
    }
}
