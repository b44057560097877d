package passcode.keycloak.runner;

import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import org.keycloak.events.Event;
import org.keycloak.events.EventListenerProvider;

/** An event listener that keeps every login event (what Keycloak's event store would hold). */
public final class EventLog implements EventListenerProvider {
    private final List<Event> events = new CopyOnWriteArrayList<>();

    @Override
    public void onEvent(Event event) {
        events.add(event);
    }

    public List<Event> events() {
        return List.copyOf(events);
    }

    @Override
    public void close() {}
}
