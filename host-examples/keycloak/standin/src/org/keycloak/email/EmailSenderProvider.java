package org.keycloak.email;

import java.util.Map;
import org.keycloak.provider.Provider;

/** Stand-in for Keycloak's EmailSenderProvider: sends through the realm's SMTP settings. */
public interface EmailSenderProvider extends Provider {
    void send(Map<String, String> config, String address, String subject, String textBody, String htmlBody)
            throws EmailException;
}
