package org.keycloak.models;

import java.util.Map;

/** Stand-in for Keycloak's RealmModel (the part the authenticator and the flow engine use). */
public interface RealmModel {
    String getId();

    String getName();

    String getDisplayName();

    boolean isBruteForceProtected();

    /** The realm's email settings (host, port, from, ...), for EmailSenderProvider. */
    Map<String, String> getSmtpConfig();
}
