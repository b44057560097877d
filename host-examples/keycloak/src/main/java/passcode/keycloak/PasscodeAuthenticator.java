package passcode.keycloak;

import jakarta.ws.rs.core.MultivaluedMap;
import java.util.List;
import java.util.logging.Level;
import java.util.logging.Logger;
import org.keycloak.authentication.AuthenticationFlowContext;
import org.keycloak.authentication.AuthenticationFlowError;
import org.keycloak.authentication.Authenticator;
import org.keycloak.events.Errors;
import org.keycloak.forms.login.LoginFormsProvider;
import org.keycloak.models.AuthenticatorConfigModel;
import org.keycloak.models.KeycloakSession;
import org.keycloak.models.RealmModel;
import org.keycloak.models.UserModel;
import org.keycloak.services.managers.BruteForceProtector;
import org.keycloak.sessions.AuthenticationSessionModel;
import passcode.jna.Channel;
import passcode.jna.Issued;
import passcode.jna.PasscodeDelivery;
import passcode.jna.PasscodeEngine;
import passcode.jna.PasscodeException;
import passcode.jna.Purpose;
import passcode.jna.Verified;

/**
 * A Keycloak authenticator that delegates passcodes to libpasscode. authenticate() issues a
 * challenge for the user's address or number, delivers the message and shows the code form;
 * action() checks the code typed (or sends a new one when asked). The sign-up mode asks for an
 * address first and creates the account, its address verified, once the code is right; the
 * address sign-in mode asks for an address and signs in the account that has it.
 *
 * <p>Delivery is the execution's choice: libpasscode's own senders ({@code delivery = passcode}:
 * the code is issued and queued in one call, and the message leaves on delivery's threads),
 * Keycloak's email sender, or a development outbox. Where the answer must not tell whether an
 * account exists (the address sign-in), an address without an account takes the same call with
 * {@code deliver = false}: the same steps, the same page, no message.
 *
 * <p>What it keeps: only the sealed challenge token (and when a resend is allowed, and whether
 * messages are sent) in the authentication session's notes; never the code or the address. Guessing is capped by the engine per user,
 * across every login session, browser tab and Keycloak node (the store is shared); each refused
 * code is also a failureChallenge and a LOGIN_ERROR event, so the realm's brute-force detector
 * sees it. Refreshing the page does not send another code.
 */
public final class PasscodeAuthenticator implements Authenticator {
    /** Which destination a challenge goes to, with the purposes and deliveries it offers (the first of each its default). */
    public enum Mode {
        /** The user's email address. */
        EMAIL(Channel.EMAIL, List.of(Purpose.SIGN_IN, Purpose.SECOND_FACTOR), List.of(
                PasscodeSettings.DELIVERY_KEYCLOAK_EMAIL, PasscodeSettings.DELIVERY_PASSCODE, PasscodeSettings.DELIVERY_OUTBOX)),
        /** The user's phone number (an attribute, E.164). */
        SMS(Channel.SMS, List.of(Purpose.SECOND_FACTOR, Purpose.SIGN_IN), List.of(
                PasscodeSettings.DELIVERY_PASSCODE, PasscodeSettings.DELIVERY_OUTBOX)),
        /** An address typed on a registration form; the account is created when its code is right. */
        SIGN_UP(Channel.EMAIL, List.of(Purpose.SIGN_UP), List.of(
                PasscodeSettings.DELIVERY_KEYCLOAK_EMAIL, PasscodeSettings.DELIVERY_PASSCODE, PasscodeSettings.DELIVERY_OUTBOX)),
        /**
         * An address typed on a sign-in form; its account signs in when its code is right. An
         * address without an account gets the same answer and no message, so the deliveries
         * offered exclude keycloak-email: it sends while the request waits, so the answer's time
         * would tell.
         */
        ADDRESS_SIGN_IN(Channel.EMAIL, List.of(Purpose.SIGN_IN), List.of(
                PasscodeSettings.DELIVERY_PASSCODE, PasscodeSettings.DELIVERY_OUTBOX));

        final Channel channel;
        final List<Purpose> purposes;
        final List<String> deliveries;

        Mode(Channel channel, List<Purpose> purposes, List<String> deliveries) {
            this.channel = channel;
            this.purposes = purposes;
            this.deliveries = deliveries;
        }

        /** Whether the address is typed on this step's own form (and not the flow's user's). */
        boolean typesAddress() {
            return this == SIGN_UP || this == ADDRESS_SIGN_IN;
        }
    }

    /** The auth note holding the sealed challenge token (it reveals nothing and cannot be forged). */
    public static final String NOTE_TOKEN = "passcode.token";
    /** The auth note holding when a resend is allowed, in Unix seconds. */
    public static final String NOTE_RESEND_AT = "passcode.resend-at";
    /**
     * The auth note saying whether the challenge's messages are sent ("false" for an address
     * without an account, at address sign-in): kept on the server, never shown, so a resend takes
     * the same steps as the first send.
     */
    public static final String NOTE_DELIVER = "passcode.deliver";
    /** The theme templates (theme-resources/templates in the jar). */
    public static final String CODE_FORM = "passcode-code.ftl";

    public static final String ADDRESS_FORM = "passcode-address.ftl";

    private static final Logger LOG = Logger.getLogger("passcode.keycloak");

    private final Engines engines;
    private final Mode mode;
    private final String phoneAttribute;

    PasscodeAuthenticator(Engines engines, Mode mode, String phoneAttribute) {
        this.engines = engines;
        this.mode = mode;
        this.phoneAttribute = phoneAttribute;
    }

    /** One execution's settings, engine, and libpasscode delivery (null unless delivery = passcode). */
    private record Step(PasscodeSettings settings, PasscodeEngine engine, PasscodeDelivery delivery) {}

    @Override
    public void authenticate(AuthenticationFlowContext context) {
        Step step = step(context);
        if (step == null) {
            return;
        }
        boolean challengeLive = context.getAuthenticationSession().getAuthNote(NOTE_TOKEN) != null;
        if (mode.typesAddress()) {
            context.challenge(challengeLive ? codeForm(context, step).createForm(CODE_FORM) : addressForm(context).createForm(ADDRESS_FORM));
            return;
        }
        UserModel user = context.getUser();
        if (lockedByRealm(context, step, user)) {
            return;
        }
        if (challengeLive) {
            // A refresh or a return to this step: show the form again, send nothing new.
            context.challenge(codeForm(context, step).createForm(CODE_FORM));
            return;
        }
        String destination = destination(user);
        if (destination == null) {
            context.failure(AuthenticationFlowError.CREDENTIAL_SETUP_REQUIRED);
            return;
        }
        issue(context, step, destination, true);
    }

    @Override
    public void action(AuthenticationFlowContext context) {
        Step step = step(context);
        if (step == null) {
            return;
        }
        MultivaluedMap<String, String> form = context.getHttpRequest().getDecodedFormParameters();
        AuthenticationSessionModel session = context.getAuthenticationSession();
        String token = session.getAuthNote(NOTE_TOKEN);
        if (token == null) {
            if (mode.typesAddress() && form.getFirst("email") != null) {
                String address = form.getFirst("email").trim();
                if (address.isEmpty()) {
                    context.challenge(addressForm(context).setError("missingEmailMessage").createForm(ADDRESS_FORM));
                } else {
                    // Sign-up sends to any address (its owner learns only after the code whether it is
                    // taken); sign-in sends only to an account that can sign in, with the same answer.
                    issue(context, step, address, mode == Mode.SIGN_UP || signInAccount(context, address) != null);
                }
                return;
            }
            // No challenge in this authentication session (e.g. a post from another tab): start the step.
            authenticate(context);
            return;
        }
        if (form.containsKey("resend")) {
            resend(context, step, token);
            return;
        }
        if (lockedByRealm(context, step, context.getUser())) {
            return;
        }
        String code = form.getFirst("code");
        if (code == null || code.isBlank()) {
            context.challenge(codeForm(context, step).setError("passcodeMissingCode").createForm(CODE_FORM));
            return;
        }
        Verified verified;
        try {
            verified = step.engine.verify(token, code);
        } catch (PasscodeException e) {
            refused(context, step, e);
            return;
        }
        forget(context);
        switch (mode) {
            case SIGN_UP -> signUp(context, verified);
            case ADDRESS_SIGN_IN -> signIn(context, step, verified);
            default -> context.success();
        }
    }

    @Override
    public boolean requiresUser() {
        return !mode.typesAddress();
    }

    @Override
    public boolean configuredFor(KeycloakSession session, RealmModel realm, UserModel user) {
        return mode.typesAddress() || destination(user) != null;
    }

    @Override
    public void setRequiredActions(KeycloakSession session, RealmModel realm, UserModel user) {
        // Nothing to set up: the address comes with the account; a phone number is a user
        // attribute the realm's profile collects (the factory does not allow user setup).
    }

    @Override
    public void close() {}

    // --- steps ---

    private Step step(AuthenticationFlowContext context) {
        AuthenticatorConfigModel config = context.getAuthenticatorConfig();
        PasscodeSettings settings;
        try {
            settings = PasscodeSettings.of(
                    context.getRealm(), mode.channel, mode.purposes, mode.deliveries, config == null ? null : config.getConfig());
        } catch (IllegalArgumentException e) {
            LOG.log(Level.WARNING, "passcode: the authenticator config is refused: {0}", e.getMessage());
            context.failure(AuthenticationFlowError.INTERNAL_ERROR);
            return null;
        }
        String opening = "the engine";
        try {
            PasscodeEngine engine = engines.engine(settings);
            opening = "delivery";
            return new Step(settings, engine, engines.delivery(settings));
        } catch (PasscodeException e) {
            // The status names what is wrong (a key, a sender's setting), never a value.
            LOG.log(Level.WARNING, "passcode: {0} did not open: {1} ({2})", new Object[] {opening, e.status(), e.getMessage()});
        }
        context.failure(AuthenticationFlowError.INTERNAL_ERROR);
        return null;
    }

    /**
     * Issues a challenge for destination and sends its message, or with deliver false takes the
     * same steps and sends nothing (an address without an account).
     */
    private void issue(AuthenticationFlowContext context, Step step, String destination, boolean deliver) {
        Issued issued;
        try {
            String client = client(context);
            String locale = locale(context.getUser());
            issued = step.delivery == null
                    ? step.engine.issue(step.settings.channel(), step.settings.purpose(), destination, client, locale)
                    : step.engine.issueAndSend(
                            step.delivery, deliver, step.settings.channel(), step.settings.purpose(), destination, client, locale);
        } catch (PasscodeException e) {
            sendRefused(context, step, e);
            return;
        }
        remember(context, issued, deliver);
        sent(context, step, issued, deliver, "passcodeSent");
    }

    private void resend(AuthenticationFlowContext context, Step step, String token) {
        Issued issued;
        boolean deliver = !"false".equals(context.getAuthenticationSession().getAuthNote(NOTE_DELIVER));
        try {
            issued = step.delivery == null
                    ? step.engine.resend(token, client(context), locale(context.getUser()))
                    : step.engine.resendAndSend(step.delivery, deliver, token, client(context), locale(context.getUser()));
        } catch (PasscodeException e) {
            switch (e.status()) {
                case EXPIRED, NOT_FOUND, TOO_MANY_ATTEMPTS -> {
                    // That challenge is over: start a new one (the send limits still apply).
                    forget(context);
                    if (mode.typesAddress()) {
                        context.challenge(addressForm(context).setInfo("passcodeStartAgain").createForm(ADDRESS_FORM));
                    } else {
                        issue(context, step, destination(context.getUser()), true);
                    }
                }
                default -> sendRefused(context, step, e);
            }
            return;
        }
        remember(context, issued, deliver);
        sent(context, step, issued, deliver, "passcodeResent");
    }

    /**
     * Shows the code form once a code is on its way. libpasscode's delivery has already queued the
     * message (what becomes of it is logged from delivery's events); the host's own senders send
     * it now. The address sign-in says the same whether or not a message left.
     */
    private void sent(AuthenticationFlowContext context, Step step, Issued issued, boolean deliver, String info) {
        if (step.delivery == null && deliver) {
            try {
                CodeSender.of(step.settings).send(context.getSession(), context.getRealm(), issued);
            } catch (CodeSender.DeliveryException e) {
                LOG.log(Level.WARNING, "passcode: delivery failed: {0}", e.getMessage());
                context.getEvent().user(context.getUser()).error(Errors.EMAIL_SEND_FAILED);
                context.challenge(codeForm(context, step).setError("passcodeSendFailed").createForm(CODE_FORM));
                return;
            }
        }
        context.challenge(codeForm(context, step)
                .setInfo(mode == Mode.ADDRESS_SIGN_IN ? info + "IfAccount" : info)
                .createForm(CODE_FORM));
    }

    /** The enabled account with this address that the realm has not locked, or null: who a sign-in code is sent to. */
    private UserModel signInAccount(AuthenticationFlowContext context, String address) {
        UserModel user = context.getSession().users().getUserByEmail(context.getRealm(), address);
        return user == null || !user.isEnabled() || realmLocked(context, user) ? null : user;
    }

    /**
     * The address is proven: its account signs in. The realm's lock is checked only now, so that
     * before the code nothing tells whether the address has an account.
     */
    private void signIn(AuthenticationFlowContext context, Step step, Verified verified) {
        UserModel user = context.getSession().users().getUserByEmail(context.getRealm(), verified.identifier());
        if (user == null || !user.isEnabled()) {
            // No code was sent to this address: only a guess got here.
            context.getEvent().error(Errors.USER_NOT_FOUND);
            context.failure(AuthenticationFlowError.INVALID_USER, addressForm(context).setError("invalidUserMessage").createForm(ADDRESS_FORM));
            return;
        }
        context.setUser(user);
        if (lockedByRealm(context, step, user)) {
            return;
        }
        context.success();
    }

    private void signUp(AuthenticationFlowContext context, Verified verified) {
        KeycloakSession session = context.getSession();
        RealmModel realm = context.getRealm();
        if (session.users().getUserByEmail(realm, verified.identifier()) != null) {
            // Said only now that the address is proven: before, the answer had one shape for all.
            context.getEvent().error(Errors.EMAIL_IN_USE);
            context.challenge(addressForm(context).setError("emailExistsMessage").createForm(ADDRESS_FORM));
            return;
        }
        UserModel user = session.users().addUser(realm, verified.identifier());
        user.setEmail(verified.identifier());
        user.setEmailVerified(true);
        user.setEnabled(true);
        context.setUser(user);
        context.success();
    }

    // --- refusals ---

    /** A code that was not accepted: every one counts as a failed login for the realm too. */
    private void refused(AuthenticationFlowContext context, Step step, PasscodeException e) {
        UserModel user = context.getUser();
        switch (e.status()) {
            case WRONG_CODE -> {
                context.getEvent().user(user).detail("passcode", "wrong-code").error(Errors.INVALID_USER_CREDENTIALS);
                LoginFormsProvider form = codeForm(context, step);
                e.attemptsLeft().ifPresent(n -> form.setAttribute("passcodeAttemptsLeft", n));
                form.setError("passcodeWrongCode", e.attemptsLeft().orElse(0));
                context.failureChallenge(AuthenticationFlowError.INVALID_CREDENTIALS, form.createForm(CODE_FORM));
            }
            case EXPIRED -> {
                context.getEvent().user(user).detail("passcode", "expired").error(Errors.EXPIRED_CODE);
                context.failureChallenge(
                        AuthenticationFlowError.EXPIRED_CODE,
                        codeForm(context, step).setError("passcodeExpired").createForm(CODE_FORM));
            }
            case TOO_MANY_ATTEMPTS, NOT_FOUND -> {
                context.getEvent().user(user).detail("passcode", e.status().name()).error(Errors.INVALID_USER_CREDENTIALS);
                context.failureChallenge(
                        AuthenticationFlowError.INVALID_CREDENTIALS,
                        codeForm(context, step).setError("passcodeNoLongerValid").createForm(CODE_FORM));
            }
            // A wrong code that started the lock counts as a failed login too (locked() records it).
            case SUBJECT_LOCKED, WRONG_CODE_LOCKED -> locked(context, step, e);
            default -> unavailable(context, step, e);
        }
    }

    /** An issue or resend that was refused. */
    private void sendRefused(AuthenticationFlowContext context, Step step, PasscodeException e) {
        switch (e.status()) {
            case RESEND_TOO_SOON, SEND_LIMIT -> context.challenge(codeForm(context, step)
                    .setError(
                            e.status() == passcode.jna.PasscodeStatus.SEND_LIMIT ? "passcodeSendLimit" : "passcodeResendTooSoon",
                            e.retryAfter().orElse(0))
                    .createForm(CODE_FORM));
            case SUBJECT_LOCKED -> locked(context, step, e);
            case DELIVERY_QUEUE_FULL, DELIVERY_STOPPED -> {
                // No code was issued: the user can simply ask again in a moment.
                LOG.log(Level.WARNING, "passcode: delivery refused the message: {0}", e.status());
                context.challenge(codeForm(context, step).setError("passcodeSendFailed").createForm(CODE_FORM));
            }
            case INVALID_EMAIL, INVALID_PHONE, DESTINATION_BLOCKED, CHANNEL_NOT_ALLOWED -> {
                if (mode.typesAddress()) {
                    context.getEvent().error(Errors.INVALID_EMAIL);
                    context.challenge(addressForm(context).setError("invalidEmailMessage").createForm(ADDRESS_FORM));
                } else {
                    // The account's own address or number is unusable: the user cannot fix that here.
                    LOG.log(Level.WARNING, "passcode: the user''s {0} was refused: {1}", new Object[] {step.settings.channel(), e.status()});
                    context.failure(AuthenticationFlowError.CREDENTIAL_SETUP_REQUIRED);
                }
            }
            default -> unavailable(context, step, e);
        }
    }

    private void locked(AuthenticationFlowContext context, Step step, PasscodeException e) {
        context.getEvent().user(context.getUser()).detail("passcode", "locked").error(Errors.USER_TEMPORARILY_DISABLED);
        LoginFormsProvider form = codeForm(context, step).setAttribute("passcodeLocked", true);
        if (e.retryAfter().isPresent()) {
            form.setError("passcodeLocked", (e.retryAfter().getAsLong() + 59) / 60);
        } else {
            form.setError("passcodeHardLocked");
        }
        context.failure(AuthenticationFlowError.USER_TEMPORARILY_DISABLED, form.createForm(CODE_FORM));
    }

    /** The store failed (fail closed) or the engine reported what the host cannot fix. */
    private void unavailable(AuthenticationFlowContext context, Step step, PasscodeException e) {
        LOG.log(Level.WARNING, "passcode: {0} ({1})", new Object[] {e.status(), e.getMessage()});
        forget(context);
        context.failure(
                AuthenticationFlowError.INTERNAL_ERROR,
                codeForm(context, step).setAttribute("passcodeLocked", true).setError("passcodeUnavailable").createForm(CODE_FORM));
    }

    /** Whether the realm's own brute-force detector has locked the user (then nothing is sent or checked). */
    private boolean lockedByRealm(AuthenticationFlowContext context, Step step, UserModel user) {
        if (!realmLocked(context, user)) {
            return false;
        }
        context.getEvent().user(user).error(Errors.USER_TEMPORARILY_DISABLED);
        context.failure(
                AuthenticationFlowError.USER_TEMPORARILY_DISABLED,
                codeForm(context, step).setAttribute("passcodeLocked", true).setError("accountTemporarilyDisabledMessage").createForm(CODE_FORM));
        return true;
    }

    /** Whether the realm's brute-force detector has disabled the user for now (false for no user). */
    private static boolean realmLocked(AuthenticationFlowContext context, UserModel user) {
        BruteForceProtector protector = context.getProtector();
        return user != null
                && protector != null
                && context.getRealm().isBruteForceProtected()
                && protector.isTemporarilyDisabled(context.getSession(), context.getRealm(), user);
    }

    // --- helpers ---

    private String destination(UserModel user) {
        if (user == null) {
            return null;
        }
        String d = mode == Mode.SMS ? user.getFirstAttribute(phoneAttribute) : user.getEmail();
        return d == null || d.isBlank() ? null : d.trim();
    }

    /** The client's IP for its send bucket, when Keycloak has one. */
    private static String client(AuthenticationFlowContext context) {
        String addr = context.getConnection() == null ? null : context.getConnection().getRemoteAddr();
        return addr != null && addr.matches("[0-9A-Fa-f:.]{2,45}") ? addr : null;
    }

    /** The user's chosen locale (Keycloak keeps it as the attribute "locale"), for the message. */
    private static String locale(UserModel user) {
        return user == null ? null : user.getFirstAttribute("locale");
    }

    private void remember(AuthenticationFlowContext context, Issued issued, boolean deliver) {
        AuthenticationSessionModel session = context.getAuthenticationSession();
        session.setAuthNote(NOTE_TOKEN, issued.token());
        session.setAuthNote(NOTE_RESEND_AT, Long.toString(issued.resendAt()));
        session.setAuthNote(NOTE_DELIVER, Boolean.toString(deliver));
    }

    private static void forget(AuthenticationFlowContext context) {
        context.getAuthenticationSession().removeAuthNote(NOTE_TOKEN);
        context.getAuthenticationSession().removeAuthNote(NOTE_RESEND_AT);
        context.getAuthenticationSession().removeAuthNote(NOTE_DELIVER);
    }

    private LoginFormsProvider codeForm(AuthenticationFlowContext context, Step step) {
        String resendAt = context.getAuthenticationSession().getAuthNote(NOTE_RESEND_AT);
        long resendIn = resendAt == null ? 0 : Math.max(0, Long.parseLong(resendAt) - engines.now());
        return context.form()
                .setAttribute("passcodeChannel", step.settings.channel().label())
                .setAttribute("passcodePurpose", step.settings.purpose().label())
                .setAttribute("passcodeCodeLength", step.settings.codeLength())
                .setAttribute("passcodeResendIn", resendIn);
    }

    private LoginFormsProvider addressForm(AuthenticationFlowContext context) {
        return context.form().setAttribute("passcodePurpose", mode.purposes.get(0).label());
    }
}
