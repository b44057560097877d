package passcode.keycloak.tests;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.Predicate;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.keycloak.events.Errors;
import org.keycloak.events.Event;
import org.keycloak.events.EventType;
import passcode.jna.DeliveryEvent;
import passcode.jna.DeliveryEventKind;
import passcode.keycloak.Engines;
import passcode.keycloak.PasscodeAuthenticator;
import passcode.keycloak.PasscodeSettings;
import passcode.keycloak.RealmStore;
import passcode.keycloak.runner.AuthSession;
import passcode.keycloak.runner.FlowRunner;
import passcode.keycloak.runner.FormParams;
import passcode.keycloak.runner.Page;
import passcode.keycloak.runner.RunnerKeycloak;
import passcode.keycloak.runner.RunnerUser;

/**
 * The authenticators with {@code delivery = passcode}: codes leave through libpasscode's own
 * senders, configured in the execution's config, to real servers on loopback that the test run
 * started (aiosmtpd, and the SMS provider stand-in checking Twilio's form), and each flow is
 * finished with the code read from what those servers received. Also: the address sign-in
 * answers alike for an address without an account and sends it nothing, a relay that never
 * answers is a logged failure, and after every test no delivery event, log line or auth note
 * holds a code or an address.
 */
class DeliveryTest {
    private static final String IP = "203.0.113.9";
    private static final String CODE_FORM = PasscodeAuthenticator.CODE_FORM;
    /** An address with no account: nothing may ever be sent to it. */
    static final String NOBODY = "nobody@example.com";
    /** Numbers each test's user, so that each test reads only its own messages from the shared servers. */
    private static final AtomicInteger TESTS = new AtomicInteger();

    /** This test's user's address and number. */
    private String janeEmail;
    private String janePhone;

    private Fixture.Clock clock;
    private Engines engines;
    private RunnerKeycloak keycloak;
    private final List<DeliveryEvent> deliveryEvents = new CopyOnWriteArrayList<>();
    private final List<AuthSession> tabs = new ArrayList<>();
    private final List<String> codes = new CopyOnWriteArrayList<>();
    private Fixture.Logs logs;

    @BeforeEach
    void start() {
        logs = new Fixture.Logs();
        clock = new Fixture.Clock();
        engines = new Engines(clock, new RealmStore());
        engines.addDeliveryListener(deliveryEvents::add);
        keycloak = new RunnerKeycloak("acme", engines, 0);
        int n = TESTS.incrementAndGet();
        janeEmail = "jane." + n + "@example.com";
        janePhone = "+1415555" + (1000 + n);
        RunnerUser jane = keycloak.user("jane", janeEmail, "correct horse");
        jane.setSingleAttribute("phoneNumber", janePhone);
    }

    /** After every test: no delivery event, note, log line or login event holds a code or an address or number. */
    @AfterEach
    void nothing_holds_a_code_or_an_address() {
        try {
            // Close first: delivery drains its queue, so every event of the test has been heard.
            keycloak.close();
            engines.close();
            List<String> secrets = new ArrayList<>(codes);
            secrets.addAll(List.of(janeEmail, janePhone, janePhone.substring(2), NOBODY));
            for (String secret : secrets) {
                Predicate<String> holds = text -> text != null && (secret.matches("[0-9]{6}") ? Fixture.holds(text, secret) : text.contains(secret));
                for (DeliveryEvent e : deliveryEvents) {
                    assertFalse(holds.test(e.toString()), "a delivery event holds a code or an address: " + e);
                }
                for (String line : logs.lines()) {
                    assertFalse(holds.test(line), "a log line holds a code or an address: " + line);
                }
                for (AuthSession tab : tabs) {
                    tab.notes().forEach((k, v) -> assertFalse(holds.test(v), "auth note " + k + " holds a code or an address"));
                }
                for (Event e : keycloak.events.events()) {
                    assertFalse(holds.test(e.toString()), "a login event holds a code or an address: " + e);
                }
            }
        } finally {
            logs.close();
        }
    }

    // --- configs ---

    /** delivery = passcode with the SMTP server the test run started (plain SMTP: it is on loopback). */
    private static Map<String, String> smtpConfig() {
        return smtpConfig(Fixture.Inbox.env("PASSCODE_TEST_SMTP_PORT"));
    }

    private static Map<String, String> smtpConfig(String port, String... more) {
        Map<String, String> c = Fixture.config(
                PasscodeSettings.DELIVERY, PasscodeSettings.DELIVERY_PASSCODE,
                PasscodeSettings.SMTP_HOST, "127.0.0.1",
                PasscodeSettings.SMTP_PORT, port,
                PasscodeSettings.SMTP_TLS, "none",
                PasscodeSettings.SMTP_FROM, "Acme <sign-in@acme.example>");
        for (int i = 0; i + 1 < more.length; i += 2) {
            c.put(more[i], more[i + 1]);
        }
        return c;
    }

    // --- helpers ---

    private AuthSession tab() {
        AuthSession tab = new AuthSession();
        tabs.add(tab);
        return tab;
    }

    private static Page post(FlowRunner flow, AuthSession tab, Page page, String... form) {
        return flow.submit(tab, page.execution(), FormParams.of(form), IP);
    }

    /** The code in the n-th mail to an address, read from what the SMTP server received. */
    private String mailedCode(String to, int n) {
        String code = Fixture.codeIn(Fixture.mailText(Fixture.Inbox.await(to, n)));
        codes.add(code);
        return code;
    }

    /** How many messages this test queued so far (QUEUED is heard on the queuing thread, at once). */
    private long queued() {
        return deliveryEvents.stream().filter(e -> e.kind() == DeliveryEventKind.QUEUED).count();
    }

    /** Waits up to 20 s for n events of a kind. */
    private List<DeliveryEvent> awaitEvents(DeliveryEventKind kind, int n) throws InterruptedException {
        long deadline = System.nanoTime() + 20_000_000_000L;
        while (true) {
            List<DeliveryEvent> found = deliveryEvents.stream().filter(e -> e.kind() == kind).toList();
            if (found.size() >= n || System.nanoTime() > deadline) {
                assertEquals(n, found.size(), "delivery events " + kind + ": " + deliveryEvents);
                return found;
            }
            Thread.sleep(20);
        }
    }

    // --- the flows, delivered ---

    @Test
    void passwordless_sign_in_with_the_code_mailed_by_libpasscode_over_smtp() throws Exception {
        FlowRunner flow = keycloak.passwordlessEmail(smtpConfig());
        AuthSession tab = tab();
        Page page = post(flow, tab, flow.start(tab, IP), "username", "jane");
        assertTrue(page.isForm(CODE_FORM) && "passcodeSent".equals(page.info()), page.toString());
        assertEquals(1, queued(), "queued when the page was answered");
        String code = mailedCode(janeEmail, 1);
        Page done = post(flow, tab, page, "code", code);
        assertTrue(done.isSuccess(), done.toString());
        DeliveryEvent sent = awaitEvents(DeliveryEventKind.SENT, 1).get(0);
        DeliveryEvent queued = deliveryEvents.get(0);
        assertEquals(DeliveryEventKind.QUEUED, queued.kind(), "QUEUED comes first");
        assertEquals(queued.messageId(), sent.messageId());
        assertTrue(sent.messageId().matches("msg_[0-9a-f]{32}"), sent.messageId());
        assertEquals("email", sent.sender());
        assertEquals(1, sent.attempt());
        assertTrue(sent.subject().matches("[0-9a-f]{16}"), "the subject is a pseudonym");
        assertEquals(passcode.jna.Purpose.SIGN_IN, sent.purpose());
        assertEquals(0, keycloak.mailbox.sent().size(), "Keycloak's own email sender was not used");
    }

    @Test
    void a_resend_mails_a_new_code_and_the_old_one_stops_working() throws Exception {
        FlowRunner flow = keycloak.passwordlessEmail(smtpConfig());
        AuthSession tab = tab();
        Page page = post(flow, tab, flow.start(tab, IP), "username", "jane");
        String first = mailedCode(janeEmail, 1);
        clock.advance(30);
        Page resent = post(flow, tab, page, "resend", "true");
        assertEquals("passcodeResent", resent.info());
        String second = mailedCode(janeEmail, 2);
        if (!second.equals(first)) {
            assertEquals("passcodeWrongCode", post(flow, tab, resent, "code", first).error());
        }
        assertTrue(post(flow, tab, resent, "code", second).isSuccess());
        awaitEvents(DeliveryEventKind.SENT, 2);
    }

    @Test
    void sms_second_factor_with_the_code_sent_through_the_providers_messages_api() throws Exception {
        FlowRunner flow = keycloak.smsSecondFactor(Fixture.config(
                PasscodeSettings.DELIVERY, PasscodeSettings.DELIVERY_PASSCODE,
                PasscodeSettings.SMS_BASE_URL, Fixture.Inbox.env("PASSCODE_TEST_SMS_BASE_URL"),
                PasscodeSettings.SMS_ACCOUNT_SID, Fixture.Inbox.env("PASSCODE_TEST_SMS_ACCOUNT"),
                PasscodeSettings.SMS_AUTH_TOKEN_ENV, "PASSCODE_TEST_SMS_TOKEN",
                PasscodeSettings.SMS_FROM, "+15005550006",
                PasscodeSettings.SMS_DOMAIN, "login.acme.example"));
        AuthSession tab = tab();
        Page page = post(flow, tab, flow.start(tab, IP), "username", "jane", "password", "correct horse");
        assertTrue(page.isForm(CODE_FORM), page.toString());
        assertEquals("sms", page.attributes().get("passcodeChannel"));
        String sms = Fixture.Inbox.await(janePhone, 1);
        String code = Fixture.codeIn(sms);
        codes.add(code);
        assertTrue(sms.strip().endsWith("@login.acme.example #" + code), "the origin-bound line ends the SMS");
        assertTrue(post(flow, tab, page, "code", code).isSuccess());
        DeliveryEvent sent = awaitEvents(DeliveryEventKind.SENT, 1).get(0);
        assertEquals("sms", sent.sender());
        assertTrue(sent.providerId().startsWith("SM"), "the provider's message id: " + sent.providerId());
    }

    @Test
    void sign_in_by_typed_address_answers_alike_and_sends_only_to_an_account() throws Exception {
        String disabledEmail = "disabled." + janeEmail;
        keycloak.user("bob", disabledEmail, "pw").setEnabled(false);
        FlowRunner flow = keycloak.addressSignIn(smtpConfig());
        AuthSession known = tab();
        AuthSession unknown = tab();
        AuthSession disabled = tab();
        Page start = flow.start(known, IP);
        assertTrue(start.isForm(PasscodeAuthenticator.ADDRESS_FORM), start.toString());
        assertEquals("sign-in", start.attributes().get("passcodePurpose"));
        Page knownPage = post(flow, known, start, "email", janeEmail);
        Page unknownPage = post(flow, unknown, flow.start(unknown, IP), "email", NOBODY);
        Page disabledPage = post(flow, disabled, flow.start(disabled, IP), "email", disabledEmail);
        // The same page, the same notes' shape: nothing tells the three apart.
        for (Page p : List.of(knownPage, unknownPage, disabledPage)) {
            assertTrue(p.isForm(CODE_FORM), p.toString());
            assertEquals("passcodeSentIfAccount", p.info());
            assertEquals(knownPage.attributes(), p.attributes());
        }
        assertEquals(known.notes().keySet(), unknown.notes().keySet());
        assertEquals(known.notes().keySet(), disabled.notes().keySet());
        assertEquals("true", known.getAuthNote(PasscodeAuthenticator.NOTE_DELIVER));
        assertEquals("false", unknown.getAuthNote(PasscodeAuthenticator.NOTE_DELIVER));
        assertEquals("false", disabled.getAuthNote(PasscodeAuthenticator.NOTE_DELIVER));
        assertEquals(1, queued(), "one message queued: none for the address without an account, nor the disabled one");
        mailedCode(janeEmail, 1); // arrived (so the resend's mail is the second to arrive)
        // A resend takes the same steps too, and still sends the unknown address nothing.
        clock.advance(30);
        Page knownAgain = post(flow, known, knownPage, "resend", "true");
        Page unknownAgain = post(flow, unknown, unknownPage, "resend", "true");
        assertEquals("passcodeResentIfAccount", knownAgain.info());
        assertEquals("passcodeResentIfAccount", unknownAgain.info());
        assertEquals(knownAgain.attributes(), unknownAgain.attributes());
        assertEquals(2, queued());
        // The account signs in with its code; a guess for the other is a wrong code like any other.
        Page guessed = post(flow, unknown, unknownAgain, "code", "123456");
        assertEquals("passcodeWrongCode", guessed.error());
        assertEquals(List.of(4), guessed.errorParameters());
        String code = mailedCode(janeEmail, 2);
        Page done = post(flow, known, knownAgain, "code", code);
        assertTrue(done.isSuccess(), done.toString());
        assertEquals(keycloak.session.users().getUserByEmail(keycloak.realm, janeEmail).getId(), done.user());
        awaitEvents(DeliveryEventKind.SENT, 2);
        assertEquals(List.of(), Fixture.Inbox.messagesTo(NOBODY), "nothing was sent to the address without an account");
        assertEquals(List.of(), Fixture.Inbox.messagesTo(disabledEmail), "nor to the disabled account");
    }

    @Test
    void the_address_sign_in_refuses_a_delivery_that_would_show_in_its_timing() {
        FlowRunner flow = keycloak.addressSignIn(Fixture.config(PasscodeSettings.DELIVERY, PasscodeSettings.DELIVERY_KEYCLOAK_EMAIL));
        AuthSession tab = tab();
        Page page = flow.start(tab, IP);
        assertEquals("INTERNAL_ERROR", page.error());
        assertTrue(logs.lines().stream().anyMatch(l -> l.contains("`delivery` must be one of passcode, outbox")), logs.lines().toString());
    }

    @Test
    void delivery_settings_are_checked_by_name_and_a_pasted_secret_is_never_echoed() {
        String pasted = "hunter2 is my SMTP password";
        List<Map<String, String>> refused = List.of(
                Fixture.config(PasscodeSettings.DELIVERY, PasscodeSettings.DELIVERY_PASSCODE),
                smtpConfig("2525", PasscodeSettings.SMTP_USERNAME, "acme", PasscodeSettings.SMTP_PASSWORD_ENV, pasted),
                smtpConfig("2525", PasscodeSettings.SMTP_USERNAME, "acme"),
                smtpConfig("2525", PasscodeSettings.SMTP_PASSWORD_ENV, "SMTP_PASSWORD", PasscodeSettings.SMTP_PASSWORD_FILE, "/etc/p"),
                smtpConfig("2525", PasscodeSettings.SMTP_TLS, "sometimes"),
                smtpConfig("70000"));
        List<String> fields = List.of(
                PasscodeSettings.SMTP_HOST, PasscodeSettings.SMTP_PASSWORD_ENV, PasscodeSettings.SMTP_PASSWORD_ENV,
                PasscodeSettings.SMTP_PASSWORD_FILE, PasscodeSettings.SMTP_TLS, PasscodeSettings.SMTP_PORT);
        for (int i = 0; i < refused.size(); i++) {
            FlowRunner flow = keycloak.passwordlessEmail(refused.get(i));
            AuthSession tab = tab();
            Page page = post(flow, tab, flow.start(tab, IP), "username", "jane");
            assertEquals("INTERNAL_ERROR", page.error(), "config " + i);
            String field = "`" + fields.get(i) + "`";
            assertTrue(logs.lines().stream().anyMatch(l -> l.contains(field)), "the log names " + field + ": " + logs.lines());
        }
        assertFalse(logs.lines().stream().anyMatch(l -> l.contains("hunter2")), "the pasted secret was echoed");
        FlowRunner sms = keycloak.smsSecondFactor(Fixture.config());
        AuthSession tab = tab();
        Page page = post(sms, tab, sms.start(tab, IP), "username", "jane", "password", "correct horse");
        assertEquals("INTERNAL_ERROR", page.error(), "SMS delivers through libpasscode by default, and needs its settings");
        assertTrue(logs.lines().stream().anyMatch(l -> l.contains("`" + PasscodeSettings.SMS_ACCOUNT_SID + "`")));
        // A value cannot add TOML of its own: this one stays a (bad) sender address and is refused.
        FlowRunner injected = keycloak.passwordlessEmail(smtpConfig(
                "2525", PasscodeSettings.SMTP_FROM, "a@b.example\"\n[delivery.outbox]\ndir = \"/tmp/passcode-injected"));
        AuthSession tab2 = tab();
        assertEquals("INTERNAL_ERROR", post(injected, tab2, injected.start(tab2, IP), "username", "jane").error());
        assertFalse(new java.io.File("/tmp/passcode-injected").exists(), "no outbox was opened");
        assertEquals(0, queued());
    }

    @Test
    void a_relay_that_cannot_be_reached_is_a_logged_failure_naming_no_one() throws Exception {
        String closedPort;
        try (ServerSocket s = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
            closedPort = String.valueOf(s.getLocalPort());
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        FlowRunner flow = keycloak.passwordlessEmail(smtpConfig(closedPort));
        AuthSession tab = tab();
        Page page = post(flow, tab, flow.start(tab, IP), "username", "jane");
        assertTrue(page.isForm(CODE_FORM) && "passcodeSent".equals(page.info()), "the user is told a code is on its way");
        DeliveryEvent failed = awaitEvents(DeliveryEventKind.FAILED, 1).get(0);
        assertEquals("not-sent", failed.reason());
        assertEquals(3, failed.attempt(), "tried max_attempts times");
        assertEquals(2, deliveryEvents.stream().filter(e -> e.kind() == DeliveryEventKind.RETRIED).count());
        assertTrue(
                logs.lines().stream().anyMatch(l -> l.contains("WARNING") && l.contains("FAILED") && l.contains(failed.messageId())),
                "the operator sees the failure with the message's id: " + logs.lines());
        long loginErrors = keycloak.events.events().stream().filter(e -> e.getType() == EventType.LOGIN_ERROR
                && Errors.EMAIL_SEND_FAILED.equals(e.getError())).count();
        assertEquals(0, loginErrors, "a later failure is the operator's log, not this request's event");
        assertNotNull(tab.getAuthNote(PasscodeAuthenticator.NOTE_TOKEN), "the challenge stays: a resend tries again");
    }
}
