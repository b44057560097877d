package org.keycloak.events;

import java.util.HashMap;
import java.util.Map;

/** Stand-in for Keycloak's Event: what event listeners and the event store receive. */
public class Event {
    private EventType type;
    private String realmId;
    private String userId;
    private String ipAddress;
    private String error;
    private Map<String, String> details;

    public EventType getType() {
        return type;
    }

    public void setType(EventType type) {
        this.type = type;
    }

    public String getRealmId() {
        return realmId;
    }

    public void setRealmId(String realmId) {
        this.realmId = realmId;
    }

    public String getUserId() {
        return userId;
    }

    public void setUserId(String userId) {
        this.userId = userId;
    }

    public String getIpAddress() {
        return ipAddress;
    }

    public void setIpAddress(String ipAddress) {
        this.ipAddress = ipAddress;
    }

    public String getError() {
        return error;
    }

    public void setError(String error) {
        this.error = error;
    }

    public Map<String, String> getDetails() {
        return details;
    }

    public void setDetails(Map<String, String> details) {
        this.details = details;
    }

    @Override
    public Event clone() {
        Event e = new Event();
        e.type = type;
        e.realmId = realmId;
        e.userId = userId;
        e.ipAddress = ipAddress;
        e.error = error;
        e.details = details == null ? null : new HashMap<>(details);
        return e;
    }

    @Override
    public String toString() {
        return type + (error == null ? "" : " error=" + error) + " user=" + userId + " details=" + details;
    }
}
