package passcode.keycloak.runner;

import java.util.List;
import java.util.Map;
import org.keycloak.email.EmailSenderProvider;
import org.keycloak.events.EventListenerProvider;
import org.keycloak.events.EventType;
import passcode.keycloak.Engines;
import passcode.keycloak.PasscodeAddressSignInAuthenticatorFactory;
import passcode.keycloak.PasscodeEmailAuthenticatorFactory;
import passcode.keycloak.PasscodeSignUpAuthenticatorFactory;
import passcode.keycloak.PasscodeSmsAuthenticatorFactory;

/**
 * One realm of a Keycloak node as the runner plays it: users, the realm's email sender (a
 * mailbox), its brute-force detector, its event store, the Passcode factories on the node's
 * engines, and the flows an operator would build with them.
 */
public final class RunnerKeycloak {
    public final RunnerRealm realm;
    public final RunnerSession session = new RunnerSession();
    public final Mailbox mailbox = new Mailbox();
    public final BruteForce bruteForce;
    public final EventLog events = new EventLog();
    public final Engines engines;
    private final PasscodeEmailAuthenticatorFactory email;
    private final PasscodeSmsAuthenticatorFactory sms;
    private final PasscodeSignUpAuthenticatorFactory signUp;
    private final PasscodeAddressSignInAuthenticatorFactory addressSignIn;

    /**
     * @param failureFactor the realm's brute-force failure factor (0: count failures, never lock)
     */
    public RunnerKeycloak(String realmName, Engines engines, int failureFactor) {
        this.realm = new RunnerRealm("id-" + realmName, realmName, true);
        this.bruteForce = new BruteForce(failureFactor);
        this.engines = engines;
        session.provide(EmailSenderProvider.class, mailbox);
        email = new PasscodeEmailAuthenticatorFactory(engines);
        sms = new PasscodeSmsAuthenticatorFactory(engines);
        signUp = new PasscodeSignUpAuthenticatorFactory(engines);
        addressSignIn = new PasscodeAddressSignInAuthenticatorFactory(engines);
        email.init(null);
        sms.init(null);
        signUp.init(null);
        addressSignIn.init(null);
    }

    /** Adds a user with an email address (and its password, for the password form). */
    public RunnerUser user(String username, String email, String password) {
        RunnerUser u = session.users().addUser(realm, username);
        u.setEmail(email);
        u.setEmailVerified(true);
        u.password(password);
        return u;
    }

    private FlowRunner flow(EventType type, List<FlowRunner.Execution> executions) {
        return new FlowRunner(realm, session, bruteForce, List.<EventListenerProvider>of(events), type, executions);
    }

    /** Browser flow: the username form, then a code by email alone (passwordless). */
    public FlowRunner passwordlessEmail(Map<String, String> config) {
        return flow(EventType.LOGIN, List.of(
                FlowRunner.Execution.of("username", s -> LoginForms.usernameForm(), null),
                FlowRunner.Execution.of("passcode-email", email::create, config)));
    }

    /** Registration flow: an address, its code, and the account created with the address verified. */
    public FlowRunner signUp(Map<String, String> config) {
        return flow(EventType.REGISTER, List.of(FlowRunner.Execution.of("passcode-sign-up", signUp::create, config)));
    }

    /** Browser flow: an address typed and its code; an address without an account gets the same pages and no message. */
    public FlowRunner addressSignIn(Map<String, String> config) {
        return flow(EventType.LOGIN, List.of(FlowRunner.Execution.of("passcode-email-sign-in", addressSignIn::create, config)));
    }

    /** Browser flow: username and password, then a code by SMS as the second factor. */
    public FlowRunner smsSecondFactor(Map<String, String> config) {
        return flow(EventType.LOGIN, List.of(
                FlowRunner.Execution.of("password", s -> LoginForms.usernamePasswordForm(), null),
                FlowRunner.Execution.of("passcode-sms", sms::create, config)));
    }

    /** Closes the factories, as Keycloak does at shutdown. */
    public void close() {
        email.close();
        sms.close();
        signUp.close();
        addressSignIn.close();
    }
}
