package org.keycloak.events;

import java.util.HashMap;
import java.util.List;
import org.keycloak.common.ClientConnection;
import org.keycloak.models.RealmModel;
import org.keycloak.models.UserModel;

/**
 * Stand-in for Keycloak's EventBuilder: success() and error() send the event to the realm's
 * listeners; error() turns TYPE into TYPE_ERROR, as Keycloak's does.
 */
public class EventBuilder {
    private final List<EventListenerProvider> listeners;
    private Event event = new Event();

    /** The runner's constructor: Keycloak's takes a session and finds the realm's listeners itself. */
    public EventBuilder(RealmModel realm, List<EventListenerProvider> listeners, ClientConnection connection) {
        this.listeners = listeners;
        event.setRealmId(realm.getId());
        event.setIpAddress(connection.getRemoteHost());
    }

    public EventBuilder event(EventType type) {
        event.setType(type);
        return this;
    }

    public EventBuilder user(UserModel user) {
        event.setUserId(user == null ? null : user.getId());
        return this;
    }

    public EventBuilder user(String userId) {
        event.setUserId(userId);
        return this;
    }

    public EventBuilder detail(String key, String value) {
        if (value == null || value.isEmpty()) {
            return this;
        }
        if (event.getDetails() == null) {
            event.setDetails(new HashMap<>());
        }
        event.getDetails().put(key, value);
        return this;
    }

    public EventBuilder removeDetail(String key) {
        if (event.getDetails() != null) {
            event.getDetails().remove(key);
        }
        return this;
    }

    public Event getEvent() {
        return event;
    }

    public void success() {
        send();
    }

    public void error(String error) {
        if (event.getType() == null) {
            throw new IllegalStateException("Attempted to define event error without first setting the event type");
        }
        if (!event.getType().name().endsWith("_ERROR")) {
            event.setType(EventType.valueOf(event.getType().name() + "_ERROR"));
        }
        event.setError(error);
        send();
    }

    private void send() {
        Event sent = event.clone();
        for (EventListenerProvider l : listeners) {
            l.onEvent(sent);
        }
    }
}
