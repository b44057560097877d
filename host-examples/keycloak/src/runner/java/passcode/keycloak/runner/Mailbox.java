package passcode.keycloak.runner;

import java.util.List;
import java.util.Map;
import java.util.concurrent.CopyOnWriteArrayList;
import org.keycloak.email.EmailSenderProvider;

/** Keycloak's EmailSenderProvider as the runner plays it: keeps every message it is asked to send. */
public final class Mailbox implements EmailSenderProvider {
    /** One message as Keycloak's SMTP sender would have sent it. */
    public record Mail(String to, String subject, String text, String html) {}

    private final List<Mail> sent = new CopyOnWriteArrayList<>();

    @Override
    public void send(Map<String, String> config, String address, String subject, String textBody, String htmlBody) {
        sent.add(new Mail(address, subject, textBody, htmlBody));
    }

    /** Every message, oldest first. */
    public List<Mail> sent() {
        return List.copyOf(sent);
    }

    /** The newest message to this address, or null. */
    public Mail last(String to) {
        for (int i = sent.size() - 1; i >= 0; i--) {
            if (sent.get(i).to().equalsIgnoreCase(to)) {
                return sent.get(i);
            }
        }
        return null;
    }

    @Override
    public void close() {}
}
