package passcode.keycloak;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.keycloak.models.RealmModel;
import org.keycloak.provider.ProviderConfigProperty;
import passcode.jna.Channel;
import passcode.jna.Purpose;

/**
 * One execution's authenticator config (what an admin sets in the console) turned into Passcode's
 * config: the realm is the tenant, so realms sharing one store never share a subject. Also says
 * which store the engine uses (the realm-style store, or Redis named in the config) and how
 * codes are delivered. Unknown or malformed values are an IllegalArgumentException naming the
 * field (never echoing a value that could be a secret).
 */
public record PasscodeSettings(
        Channel channel,
        Purpose purpose,
        int codeLength,
        String delivery,
        String outboxDir,
        boolean redis,
        String engineConfig) {
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

    /** Delivery through the realm's SMTP settings (Keycloak's EmailSenderProvider). */
    public static final String DELIVERY_KEYCLOAK_EMAIL = "keycloak-email";
    /** Delivery into a folder, one file per message: development only. */
    public static final String DELIVERY_OUTBOX = "outbox";
    /** The store that stands for Keycloak's distributed cache. */
    public static final String STORE_REALM = "realm";

    /** The fields the admin console shows; purposes are the ones this authenticator offers. */
    static List<ProviderConfigProperty> properties(Channel channel, List<Purpose> purposes) {
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
                "keycloak-email: the realm's SMTP settings (email only); outbox: files in a folder, for development only.",
                ProviderConfigProperty.LIST_TYPE,
                channel == Channel.EMAIL ? DELIVERY_KEYCLOAK_EMAIL : DELIVERY_OUTBOX,
                channel == Channel.EMAIL
                        ? new String[] {DELIVERY_KEYCLOAK_EMAIL, DELIVERY_OUTBOX}
                        : new String[] {DELIVERY_OUTBOX}));
        p.add(text(OUTBOX_DIR, "Outbox folder", "For the outbox delivery: where messages are written.", "outbox"));
        return p;
    }

    private static ProviderConfigProperty number(String name, String label, String help, int dflt) {
        return new ProviderConfigProperty(name, label, help, ProviderConfigProperty.STRING_TYPE, String.valueOf(dflt));
    }

    private static ProviderConfigProperty text(String name, String label, String help, String dflt) {
        return new ProviderConfigProperty(name, label, help, ProviderConfigProperty.STRING_TYPE, dflt);
    }

    /** The settings of one execution in one realm; config may be null (all defaults). */
    static PasscodeSettings of(RealmModel realm, Channel channel, Purpose fixedPurpose, Map<String, String> config) {
        Map<String, String> c = config == null ? Map.of() : config;
        Purpose purpose = fixedPurpose;
        if (purpose == null) {
            purpose = Purpose.named(get(c, PURPOSE, channel == Channel.EMAIL ? "sign-in" : "second-factor"));
            if (purpose != Purpose.SIGN_IN && purpose != Purpose.SECOND_FACTOR) {
                throw new IllegalArgumentException("passcode: `purpose` must be sign-in or second-factor");
            }
        }
        String delivery = get(c, DELIVERY, channel == Channel.EMAIL ? DELIVERY_KEYCLOAK_EMAIL : DELIVERY_OUTBOX);
        if (!delivery.equals(DELIVERY_OUTBOX) && !(delivery.equals(DELIVERY_KEYCLOAK_EMAIL) && channel == Channel.EMAIL)) {
            throw new IllegalArgumentException("passcode: `delivery` must be keycloak-email (email only) or outbox");
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
                delivery, get(c, OUTBOX_DIR, "outbox"), redis, toml.toString());
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
