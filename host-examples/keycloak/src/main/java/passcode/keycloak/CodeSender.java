package passcode.keycloak;

import org.keycloak.models.KeycloakSession;
import org.keycloak.models.RealmModel;
import passcode.jna.Issued;

/**
 * Delivers an issued code's rendered message when the host sends it itself: by email through
 * Keycloak's own EmailSenderProvider and the realm's SMTP settings, or into a development outbox.
 * With {@code delivery = passcode} there is no CodeSender: libpasscode's delivery issues and
 * queues in one call (PasscodeEngine.issueAndSend). Implementations never log the code or the
 * recipient.
 */
public interface CodeSender {
    /** A delivery that failed; its message names no code and no recipient. */
    final class DeliveryException extends Exception {
        private static final long serialVersionUID = 1L;

        public DeliveryException(String message, Throwable cause) {
            super(message, cause);
        }
    }

    void send(KeycloakSession session, RealmModel realm, Issued issued) throws DeliveryException;

    /** The sender a realm's settings name. */
    static CodeSender of(PasscodeSettings settings) {
        return settings.delivery().equals(PasscodeSettings.DELIVERY_OUTBOX)
                ? new OutboxSender(java.nio.file.Path.of(settings.outboxDir()))
                : new KeycloakEmailSender();
    }
}
