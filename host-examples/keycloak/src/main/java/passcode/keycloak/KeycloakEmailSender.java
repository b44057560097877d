package passcode.keycloak;

import org.keycloak.email.EmailException;
import org.keycloak.email.EmailSenderProvider;
import org.keycloak.models.KeycloakSession;
import org.keycloak.models.RealmModel;
import passcode.jna.Issued;

/** Email through Keycloak's EmailSenderProvider with the realm's SMTP settings (Realm settings, Email). */
final class KeycloakEmailSender implements CodeSender {
    @Override
    public void send(KeycloakSession session, RealmModel realm, Issued issued) throws DeliveryException {
        EmailSenderProvider email = session.getProvider(EmailSenderProvider.class);
        if (email == null) {
            throw new DeliveryException("no EmailSenderProvider in this Keycloak", null);
        }
        try {
            email.send(realm.getSmtpConfig(), issued.recipient(), issued.emailSubject(), issued.emailText(), issued.emailHtml());
        } catch (EmailException e) {
            // Keycloak's message may name the address: keep only the exception's class.
            throw new DeliveryException("the realm's email sender failed (" + e.getClass().getSimpleName() + ")", null);
        }
    }
}
