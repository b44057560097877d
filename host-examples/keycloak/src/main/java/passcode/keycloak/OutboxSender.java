package passcode.keycloak;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.atomic.AtomicLong;
import org.keycloak.models.KeycloakSession;
import org.keycloak.models.RealmModel;
import passcode.jna.Channel;
import passcode.jna.Issued;

/**
 * DEVELOPMENT ONLY: writes each message to a file in a folder instead of delivering it (like the
 * gateway's outbox), so a developer can read the code. Never for production: nothing is sent.
 */
final class OutboxSender implements CodeSender {
    private static final AtomicLong SEQUENCE = new AtomicLong();
    private final Path dir;

    OutboxSender(Path dir) {
        this.dir = dir;
    }

    @Override
    public void send(KeycloakSession session, RealmModel realm, Issued issued) throws DeliveryException {
        String body = issued.channel() == Channel.SMS
                ? issued.smsText()
                : "Subject: " + issued.emailSubject() + "\n\n" + issued.emailText();
        String text = "DEVELOPMENT ONLY: not delivered\nTo: " + issued.recipient() + "\nChannel: "
                + issued.channel().label() + "\n" + body + "\n";
        try {
            Files.createDirectories(dir);
            Path file = dir.resolve(System.currentTimeMillis() + "-" + SEQUENCE.incrementAndGet() + ".txt");
            Files.writeString(file, text, StandardCharsets.UTF_8);
        } catch (IOException e) {
            throw new DeliveryException("the outbox folder is not writable (" + e.getClass().getSimpleName() + ")", null);
        }
    }
}
