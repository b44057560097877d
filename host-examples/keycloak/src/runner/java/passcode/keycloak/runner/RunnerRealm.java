package passcode.keycloak.runner;

import java.util.HashMap;
import java.util.Map;
import org.keycloak.models.RealmModel;

/** A realm as the runner plays it: an id, a name, brute-force detection on or off, SMTP settings. */
public final class RunnerRealm implements RealmModel {
    private final String id;
    private final String name;
    private final boolean bruteForceProtected;
    private final Map<String, String> smtp = new HashMap<>();

    public RunnerRealm(String id, String name, boolean bruteForceProtected) {
        this.id = id;
        this.name = name;
        this.bruteForceProtected = bruteForceProtected;
        smtp.put("from", "no-reply@" + name + ".example");
    }

    @Override
    public String getId() {
        return id;
    }

    @Override
    public String getName() {
        return name;
    }

    @Override
    public String getDisplayName() {
        return name;
    }

    @Override
    public boolean isBruteForceProtected() {
        return bruteForceProtected;
    }

    @Override
    public Map<String, String> getSmtpConfig() {
        return smtp;
    }
}
