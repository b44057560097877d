package org.keycloak.events;

import org.keycloak.provider.Provider;

/** Stand-in for Keycloak's EventListenerProvider. */
public interface EventListenerProvider extends Provider {
    void onEvent(Event event);
}
