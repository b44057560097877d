package passcode.keycloak;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.regex.Pattern;
import org.keycloak.models.RealmModel;
import org.keycloak.provider.ProviderConfigProperty;
import passcode.jna.Channel;
import passcode.jna.Purpose;

/**
 * One execution's authenticator config (what an admin sets in the console) turned into Passcode's
 * config: the realm is the tenant, so realms sharing one store never share a subject. Also says
 * which store the engine uses (the realm-style store, or Redis named in the config) and how
 * codes are delivered: with {@code delivery = passcode}, the SMTP or SMS settings become the
 * {@code [delivery.*]} sections of libpasscode's own senders ({@code deliveryConfig}), secrets
 * named only by an environment variable or a file. Unknown or malformed values are an
 * IllegalArgumentException naming the field (never echoing a value that could be a secret).
 *
 * @param deliveryConfig the config libpasscode's delivery opens, for {@code delivery = passcode}; else null
 */
public record PasscodeSettings(
        Channel channel,
        Purpose purpose,
        int codeLength,
        String delivery,
        String outboxDir,
        boolean redis,
        String engineConfig,
        String deliveryConfig) {
    public static final String PURPOSE = "purpose";
    public static final String CODE_LENGTH = "code-length";
    public static final String LIFETIME = "lifetime-seconds";
    public static final String MAX_ATTEMPTS = "max-attempts";
    public static final String HARD_LOCK = "hard-lock-failures";
    public static final String COOLDOWN = "resend-cooldown-seconds";
    public static final String KEY_FILE = "key-file";
    public static final String KEY_ENV = "key-env";
    public static final String STORE = "store";
    public static final String REDIS_PASSWORD_ENV = "redis-password-env";
    public static final String APP_NAME = "app-name";
    public static final String SMS_DOMAIN = "sms-domain";
    public static final String ANDROID_APP_HASH = "android-app-hash";
    public static final String DELIVERY = "delivery";
    public static final String OUTBOX_DIR = "outbox-dir";
    public static final String SMTP_HOST = "smtp-host";
    public static final String SMTP_PORT = "smtp-port";
    public static final String SMTP_TLS = "smtp-tls";
    public static final String SMTP_USERNAME = "smtp-username";
    public static final String SMTP_PASSWORD_ENV = "smtp-password-env";
    public static final String SMTP_PASSWORD_FILE = "smtp-password-file";
    public static final String SMTP_FROM = "smtp-from";
    public static final String SMTP_REPLY_TO = "smtp-reply-to";
    public static final String SMTP_CA_FILE = "smtp-ca-file";
    public static final String SMS_BASE_URL = "sms-base-url";
    public static final String SMS_ACCOUNT_SID = "sms-account-sid";
    public static final String SMS_AUTH_TOKEN_ENV = "sms-auth-token-env";
    public static final String SMS_AUTH_TOKEN_FILE = "sms-auth-token-file";
    public static final String SMS_FROM = "sms-from";
    public static final String SMS_MESSAGING_SERVICE_SID = "sms-messaging-service-sid";
    public static final String SMS_WEBHOOK_URL = "sms-webhook-url";
    public static final String SMS_WEBHOOK_SECRET_ENV = "sms-webhook-secret-env";
    public static final String SMS_WEBHOOK_SECRET_FILE = "sms-webhook-secret-file";

    /** Delivery through the realm's SMTP settings (Keycloak's EmailSenderProvider). */
    public static final String DELIVERY_KEYCLOAK_EMAIL = "keycloak-email";
    /** Delivery into a folder, one file per message: development only. */
    public static final String DELIVERY_OUTBOX = "outbox";
    /** Delivery through libpasscode's own senders (SMTP, an SMS provider's API, a signed webhook). */
    public static final String DELIVERY_PASSCODE = "passcode";
    /** The store that stands for Keycloak's distributed cache. */
    public static final String STORE_REALM = "realm";

    /**
     * The fields the admin console shows; purposes and deliveries are the ones this authenticator
     * offers, the first of each its default.
     */
    static List<ProviderConfigProperty> properties(Channel channel, List<Purpose> purposes, List<String> deliveries) {
        List<ProviderConfigProperty> p = new ArrayList<>();
        if (purposes.size() > 1) {
            p.add(new ProviderConfigProperty(
                    PURPOSE,
                    "Purpose",
                    "sign-in: the code alone signs the user in (after a username form); second-factor: after a password.",
                    ProviderConfigProperty.LIST_TYPE,
                    purposes.get(0).label(),
                    purposes.stream().map(Purpose::label).toArray(String[]::new)));
        }
        p.add(number(CODE_LENGTH, "Code length", "Digits in a code: 6 to 10.", 6));
        p.add(number(LIFETIME, "Code lifetime (seconds)", "60 to 600: an SMS code lives at most 10 minutes.", 600));
        p.add(number(MAX_ATTEMPTS, "Tries per code", "Wrong tries before a code dies: 1 to 10.", 5));
        p.add(number(
                HARD_LOCK,
                "Failures before a hard lock",
                "Consecutive failures of one user, across every login and browser, before only an admin can unlock: 1 to 100.",
                100));
        p.add(number(COOLDOWN, "Resend cooldown (seconds)", "The wait between two codes sent to one user.", 30));
        p.add(text(
                KEY_FILE,
                "Key file",
                "Path on every Keycloak node to the same 32-byte random key (hex or base64). Required: the store is shared.",
                ""));
        p.add(text(KEY_ENV, "Key variable", "Or: an environment variable holding the key (hex or base64).", ""));
        p.add(text(
                STORE,
                "Store",
                "realm: Keycloak's distributed cache; or a Redis URL (redis://host:6379/0, rediss:// for TLS).",
                STORE_REALM));
        p.add(text(REDIS_PASSWORD_ENV, "Redis password variable", "The environment variable holding Redis's password.", ""));
        p.add(text(APP_NAME, "Application name", "Named in the message; the realm's display name if empty.", ""));
        if (channel == Channel.SMS) {
            p.add(text(SMS_DOMAIN, "SMS origin domain", "Adds '@domain #code' as the SMS's last line (WebOTP, iOS autofill).", ""));
            p.add(text(ANDROID_APP_HASH, "Android app hash", "The 11-character SMS Retriever hash.", ""));
        }
        p.add(new ProviderConfigProperty(
                DELIVERY,
                "Delivery",
                "passcode: libpasscode's senders, set below; keycloak-email: the realm's SMTP settings (email only);"
                        + " outbox: files in a folder, for development only.",
                ProviderConfigProperty.LIST_TYPE,
                deliveries.get(0),
                deliveries.toArray(String[]::new)));
        if (channel == Channel.EMAIL) {
            p.add(text(SMTP_HOST, "SMTP host", "For delivery = passcode: the mail relay.", ""));
            p.add(text(SMTP_PORT, "SMTP port", "587 for starttls, 465 for implicit, 25 for none if empty.", ""));
            p.add(new ProviderConfigProperty(
                    SMTP_TLS,
                    "SMTP TLS",
                    "starttls (port 587), implicit (port 465), or none (only to a relay on this machine).",
                    ProviderConfigProperty.LIST_TYPE,
                    "starttls",
                    "starttls", "implicit", "none"));
            p.add(text(SMTP_USERNAME, "SMTP user", "For SMTP AUTH; its password comes from the variable or file below.", ""));
            p.add(text(SMTP_PASSWORD_ENV, "SMTP password variable", "The environment variable holding the password (never the password).", ""));
            p.add(text(SMTP_PASSWORD_FILE, "SMTP password file", "Or: an absolute path to a file holding it.", ""));
            p.add(text(SMTP_FROM, "From", "The sender: 'Name <address>' or an address.", ""));
            p.add(text(SMTP_REPLY_TO, "Reply-To", "An optional reply address.", ""));
            p.add(text(SMTP_CA_FILE, "SMTP CA file", "A PEM file of CAs to trust instead of the system's.", ""));
        } else {
            p.add(text(SMS_ACCOUNT_SID, "SMS account id", "For delivery = passcode: the Messages API account (Twilio's Account SID).", ""));
            p.add(text(SMS_AUTH_TOKEN_ENV, "SMS token variable", "The environment variable holding the API token (never the token).", ""));
            p.add(text(SMS_AUTH_TOKEN_FILE, "SMS token file", "Or: an absolute path to a file holding it.", ""));
            p.add(text(SMS_FROM, "SMS sender", "The sending number (E.164) or sender id.", ""));
            p.add(text(SMS_MESSAGING_SERVICE_SID, "SMS messaging service", "Or: a messaging service id instead of a sender.", ""));
            p.add(text(SMS_BASE_URL, "SMS API URL", "A Twilio-compatible provider's base URL; Twilio's if empty.", ""));
            p.add(text(SMS_WEBHOOK_URL, "SMS webhook URL", "Also, or instead: your own SMS gateway, sent a signed webhook (tried after the API).", ""));
            p.add(text(SMS_WEBHOOK_SECRET_ENV, "Webhook secret variable", "The environment variable holding the whsec_ secret.", ""));
            p.add(text(SMS_WEBHOOK_SECRET_FILE, "Webhook secret file", "Or: an absolute path to a file holding it.", ""));
        }
        p.add(text(OUTBOX_DIR, "Outbox folder", "For the outbox delivery: where messages are written.", "outbox"));
        return p;
    }

    private static ProviderConfigProperty number(String name, String label, String help, int dflt) {
        return new ProviderConfigProperty(name, label, help, ProviderConfigProperty.STRING_TYPE, String.valueOf(dflt));
    }

    private static ProviderConfigProperty text(String name, String label, String help, String dflt) {
        return new ProviderConfigProperty(name, label, help, ProviderConfigProperty.STRING_TYPE, dflt);
    }

    /**
     * The settings of one execution in one realm; config may be null (all defaults). purposes and
     * deliveries are the ones the authenticator offers, the first of each its default.
     */
    static PasscodeSettings of(
            RealmModel realm, Channel channel, List<Purpose> purposes, List<String> deliveries, Map<String, String> config) {
        Map<String, String> c = config == null ? Map.of() : config;
        Purpose purpose = Purpose.named(get(c, PURPOSE, purposes.get(0).label()));
        if (!purposes.contains(purpose)) {
            throw new IllegalArgumentException("passcode: `purpose` must be one of "
                    + String.join(", ", purposes.stream().map(Purpose::label).toList()));
        }
        String delivery = get(c, DELIVERY, deliveries.get(0));
        if (!deliveries.contains(delivery)) {
            throw new IllegalArgumentException("passcode: `delivery` must be one of " + String.join(", ", deliveries));
        }
        String store = get(c, STORE, STORE_REALM);
        boolean redis = store.startsWith("redis://") || store.startsWith("rediss://");
        if (!redis && !store.equals(STORE_REALM)) {
            throw new IllegalArgumentException("passcode: `store` must be realm or a redis:// or rediss:// URL");
        }

        StringBuilder toml = new StringBuilder();
        line(toml, "tenant", quote(realm.getId()));
        if (redis) {
            toml.append("[store]\n");
            line(toml, "url", quote(store));
            String passwordEnv = get(c, REDIS_PASSWORD_ENV, "");
            if (!passwordEnv.isEmpty()) {
                line(toml, "password_env", quote(passwordEnv));
            }
        }
        String keyFile = get(c, KEY_FILE, "");
        String keyEnv = get(c, KEY_ENV, "");
        if (keyFile.isEmpty() == keyEnv.isEmpty()) {
            throw new IllegalArgumentException("passcode: set exactly one of `key-file` and `key-env`");
        }
        toml.append("[[keys.ring]]\nid = 1\n");
        line(toml, keyFile.isEmpty() ? "env" : "file", quote(keyFile.isEmpty() ? keyEnv : keyFile));
        toml.append("[policy]\n");
        String codeLength = integer(c, CODE_LENGTH, 6);
        line(toml, "code_length", codeLength);
        line(toml, "lifetime_seconds", integer(c, LIFETIME, 600));
        line(toml, "max_attempts", integer(c, MAX_ATTEMPTS, 5));
        line(toml, "hard_lock_failures", integer(c, HARD_LOCK, 100));
        line(toml, "resend_cooldown_seconds", integer(c, COOLDOWN, 30));
        toml.append("[messages]\n");
        String app = get(c, APP_NAME, "");
        if (app.isEmpty()) {
            app = realm.getDisplayName() != null && !realm.getDisplayName().isEmpty() ? realm.getDisplayName() : realm.getName();
        }
        line(toml, "app_name", quote(app));
        if (channel == Channel.SMS) {
            String domain = get(c, SMS_DOMAIN, "");
            if (!domain.isEmpty()) {
                line(toml, "domain", quote(domain));
            }
            String hash = get(c, ANDROID_APP_HASH, "");
            if (!hash.isEmpty()) {
                line(toml, "android_app_hash", quote(hash));
            }
        }
        return new PasscodeSettings(
                channel,
                purpose,
                Integer.parseInt(codeLength),
                delivery,
                get(c, OUTBOX_DIR, "outbox"),
                redis,
                toml.toString(),
                delivery.equals(DELIVERY_PASSCODE) ? deliveryConfig(channel, c) : null);
    }

    /**
     * The config of libpasscode's delivery for this channel: {@code [delivery]} with
     * {@code production = true} (no outbox), and {@code [delivery.email]}, or {@code [delivery.sms]}
     * and/or {@code [delivery.webhook]}. Values are quoted TOML strings, so no setting can add a
     * section or a key of its own; secrets are only a variable's name or a file's path.
     */
    private static String deliveryConfig(Channel channel, Map<String, String> c) {
        StringBuilder toml = new StringBuilder("[delivery]\nproduction = true\n");
        if (channel == Channel.EMAIL) {
            String host = required(c, SMTP_HOST);
            toml.append("[delivery.email]\n");
            line(toml, "host", quote(host));
            String port = get(c, SMTP_PORT, "");
            if (!port.isEmpty()) {
                int n = Integer.parseInt(integer(c, SMTP_PORT, 0));
                if (n < 1 || n > 65535) {
                    throw new IllegalArgumentException("passcode: `" + SMTP_PORT + "` must be 1 to 65535");
                }
                line(toml, "port", String.valueOf(n));
            }
            String tls = get(c, SMTP_TLS, "starttls");
            if (!List.of("starttls", "implicit", "none").contains(tls)) {
                throw new IllegalArgumentException("passcode: `" + SMTP_TLS + "` must be starttls, implicit or none");
            }
            line(toml, "tls", quote(tls));
            optional(toml, c, SMTP_USERNAME, "username");
            secret(toml, c, SMTP_PASSWORD_ENV, SMTP_PASSWORD_FILE, "password", !get(c, SMTP_USERNAME, "").isEmpty());
            line(toml, "from", quote(required(c, SMTP_FROM)));
            optional(toml, c, SMTP_REPLY_TO, "reply_to");
            optional(toml, c, SMTP_CA_FILE, "ca_file");
            return toml.toString();
        }
        String sid = get(c, SMS_ACCOUNT_SID, "");
        String webhook = get(c, SMS_WEBHOOK_URL, "");
        if (sid.isEmpty() && webhook.isEmpty()) {
            throw new IllegalArgumentException(
                    "passcode: delivery = passcode for SMS needs `" + SMS_ACCOUNT_SID + "` or `" + SMS_WEBHOOK_URL + "`");
        }
        if (!sid.isEmpty()) {
            toml.append("[delivery.sms]\n");
            optional(toml, c, SMS_BASE_URL, "base_url");
            line(toml, "account_sid", quote(sid));
            secret(toml, c, SMS_AUTH_TOKEN_ENV, SMS_AUTH_TOKEN_FILE, "auth_token", true);
            String from = get(c, SMS_FROM, "");
            String service = get(c, SMS_MESSAGING_SERVICE_SID, "");
            if (from.isEmpty() == service.isEmpty()) {
                throw new IllegalArgumentException(
                        "passcode: set exactly one of `" + SMS_FROM + "` and `" + SMS_MESSAGING_SERVICE_SID + "`");
            }
            line(toml, from.isEmpty() ? "messaging_service_sid" : "from", quote(from.isEmpty() ? service : from));
        }
        if (!webhook.isEmpty()) {
            toml.append("[delivery.webhook]\n");
            line(toml, "url", quote(webhook));
            secret(toml, c, SMS_WEBHOOK_SECRET_ENV, SMS_WEBHOOK_SECRET_FILE, "secret", true);
        }
        return toml.toString();
    }

    /** A variable's name: what a secret's {@code -env} field must hold (not the secret itself). */
    private static final Pattern VARIABLE = Pattern.compile("[A-Za-z_][A-Za-z0-9_]{0,254}");

    /**
     * A secret as {@code KEY_env} or {@code KEY_file}: at most one of the two fields, and one if
     * required. A value that is not a variable's name or an absolute path is refused without
     * being echoed: it may be the secret pasted in the wrong place.
     */
    private static void secret(
            StringBuilder toml, Map<String, String> c, String envField, String fileField, String key, boolean required) {
        String env = get(c, envField, "");
        String file = get(c, fileField, "");
        if (!env.isEmpty() && !file.isEmpty()) {
            throw new IllegalArgumentException("passcode: set one of `" + envField + "` and `" + fileField + "`, not both");
        }
        if (env.isEmpty() && file.isEmpty()) {
            if (required) {
                throw new IllegalArgumentException("passcode: set `" + envField + "` or `" + fileField + "`");
            }
            return;
        }
        if (!env.isEmpty() && !VARIABLE.matcher(env).matches()) {
            throw new IllegalArgumentException(
                    "passcode: `" + envField + "` must name an environment variable (letters, digits, _), never hold the secret");
        }
        if (!file.isEmpty() && !file.startsWith("/")) {
            throw new IllegalArgumentException("passcode: `" + fileField + "` must be an absolute path");
        }
        line(toml, env.isEmpty() ? key + "_file" : key + "_env", quote(env.isEmpty() ? file : env));
    }

    private static String required(Map<String, String> c, String field) {
        String v = get(c, field, "");
        if (v.isEmpty()) {
            throw new IllegalArgumentException("passcode: delivery = passcode needs `" + field + "`");
        }
        return v;
    }

    private static void optional(StringBuilder toml, Map<String, String> c, String field, String key) {
        String v = get(c, field, "");
        if (!v.isEmpty()) {
            line(toml, key, quote(v));
        }
    }

    private static String get(Map<String, String> c, String key, String dflt) {
        String v = c.get(key);
        return v == null || v.isBlank() ? dflt : v.trim();
    }

    private static String integer(Map<String, String> c, String key, int dflt) {
        String v = get(c, key, String.valueOf(dflt));
        try {
            return String.valueOf(Integer.parseInt(v));
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException("passcode: `" + key + "` must be a whole number");
        }
    }

    private static void line(StringBuilder toml, String key, String value) {
        toml.append(key).append(" = ").append(value).append('\n');
    }

    /** A TOML basic string: quotes, backslashes and control characters escaped. */
    static String quote(String s) {
        StringBuilder b = new StringBuilder("\"");
        for (char ch : s.toCharArray()) {
            switch (ch) {
                case '"' -> b.append("\\\"");
                case '\\' -> b.append("\\\\");
                default -> {
                    if (ch < 0x20 || ch == 0x7f) {
                        b.append(String.format("\\u%04x", (int) ch));
                    } else {
                        b.append(ch);
                    }
                }
            }
        }
        return b.append('"').toString();
    }
}
