package org.keycloak;

/** Stand-in for Keycloak's server configuration: what a factory's init() is given. */
public class Config {
    /** The settings of one provider (spi-authenticator-ID-*). */
    public interface Scope {
        /** A setting, or null. */
        String get(String key);

        /** A setting, or the default. */
        String get(String key, String defaultValue);
    }
}
