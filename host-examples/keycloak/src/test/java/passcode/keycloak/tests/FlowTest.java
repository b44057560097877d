package passcode.keycloak.tests;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.keycloak.events.Errors;
import org.keycloak.events.Event;
import org.keycloak.events.EventType;
import passcode.jna.EventKind;
import passcode.jna.PasscodeEvent;
import passcode.keycloak.Engines;
import passcode.keycloak.PasscodeAuthenticator;
import passcode.keycloak.PasscodeSettings;
import passcode.keycloak.RealmStore;
import passcode.keycloak.runner.AuthSession;
import passcode.keycloak.runner.FlowRunner;
import passcode.keycloak.runner.FormParams;
import passcode.keycloak.runner.LoginForms;
import passcode.keycloak.runner.Page;
import passcode.keycloak.runner.RunnerKeycloak;
import passcode.keycloak.runner.RunnerUser;

/**
 * The three flows through the authenticators, with the runner playing Keycloak's flow engine:
 * end to end, wrong and expired and replayed codes, a second tab, brute force across many login
 * sessions, concurrent verifies, and what notes, logs and events hold.
 */
class FlowTest {
    private static final String IP = "203.0.113.7";
    private static final String CODE_FORM = PasscodeAuthenticator.CODE_FORM;

    private Fixture.Clock clock;
    private Engines engines;
    private RunnerKeycloak keycloak;
    private RunnerUser jane;
    private final List<PasscodeEvent> engineEvents = new CopyOnWriteArrayList<>();
    private final List<AuthSession> tabs = new ArrayList<>();
    private final List<String> codes = new CopyOnWriteArrayList<>();
    private Fixture.Logs logs;

    @BeforeEach
    void start() {
        logs = new Fixture.Logs();
        clock = new Fixture.Clock();
        engines = new Engines(clock, new RealmStore());
        engines.addEventListener(engineEvents::add);
        keycloak = new RunnerKeycloak("acme", engines, 0);
        jane = keycloak.user("jane", "jane@example.com", "correct horse");
        jane.setSingleAttribute("phoneNumber", "+14155550100");
    }

    /** After every test: no note, log line or event held a code or the user's address or number. */
    @AfterEach
    void nothing_holds_a_code() {
        try {
            for (String code : codes) {
                for (AuthSession tab : tabs) {
                    tab.notes().forEach((k, v) -> assertFalse(Fixture.holds(v, code), "auth note " + k + " holds a code"));
                }
                for (String line : logs.lines()) {
                    assertFalse(Fixture.holds(line, code), "a log line holds a code: " + line);
                }
                for (Event e : keycloak.events.events()) {
                    assertFalse(Fixture.holds(e.toString(), code), "a login event holds a code: " + e);
                }
                for (PasscodeEvent e : engineEvents) {
                    assertFalse(Fixture.holds(e.toString(), code), "an engine event holds a code");
                }
            }
            for (String line : logs.lines()) {
                assertFalse(line.contains("jane@example.com") || line.contains("4155550100"), "a log line names the user: " + line);
            }
            for (AuthSession tab : tabs) {
                tab.notes().forEach((k, v) -> assertFalse(v.contains("jane@example.com"), "auth note " + k + " names the user"));
            }
        } finally {
            logs.close();
            keycloak.close();
            engines.close();
        }
    }

    private AuthSession tab() {
        AuthSession tab = new AuthSession();
        tabs.add(tab);
        return tab;
    }

    private String mailedCode(String to) {
        String code = Fixture.codeIn(keycloak.mailbox.last(to).text());
        codes.add(code);
        return code;
    }

    private String smsCode(Path outbox) {
        String code = Fixture.codeIn(Fixture.newestMessage(outbox).split("\n", 4)[3]);
        codes.add(code);
        return code;
    }

    private static Page post(FlowRunner flow, AuthSession tab, Page page, String... form) {
        return flow.submit(tab, page.execution(), FormParams.of(form), IP);
    }

    /** Opens the passwordless flow in a new tab up to the code form; returns it. */
    private Page toCodeForm(FlowRunner flow, AuthSession tab) {
        Page page = flow.start(tab, IP);
        assertTrue(page.isForm(LoginForms.USERNAME_FORM), page.toString());
        page = post(flow, tab, page, "username", "jane");
        assertTrue(page.isForm(CODE_FORM), page.toString());
        return page;
    }

    private long count(EventType type, String error) {
        return keycloak.events.events().stream()
                .filter(e -> e.getType() == type && (error == null ? e.getError() == null : error.equals(e.getError())))
                .count();
    }

    @Test
    void passwordless_sign_in_by_email_code() {
        FlowRunner flow = keycloak.passwordlessEmail(Fixture.config());
        AuthSession tab = tab();
        Page page = toCodeForm(flow, tab);
        assertEquals("passcodeSent", page.info());
        assertEquals("email", page.attributes().get("passcodeChannel"));
        assertEquals(6, page.attributes().get("passcodeCodeLength"));
        assertEquals(30L, page.attributes().get("passcodeResendIn"));
        assertNotNull(tab.getAuthNote(PasscodeAuthenticator.NOTE_TOKEN), "the sealed token is in the session");
        Page done = post(flow, tab, page, "code", mailedCode("jane@example.com"));
        assertTrue(done.isSuccess(), done.toString());
        assertEquals(jane.getId(), done.user());
        assertNull(tab.getAuthNote(PasscodeAuthenticator.NOTE_TOKEN), "the token is gone once used");
        assertEquals(1, count(EventType.LOGIN, null));
        assertEquals(1, keycloak.mailbox.sent().size());
    }

    @Test
    void a_refresh_shows_the_form_again_without_sending_another_code() {
        FlowRunner flow = keycloak.passwordlessEmail(Fixture.config());
        AuthSession tab = tab();
        toCodeForm(flow, tab);
        Page again = flow.start(tab, IP);
        assertTrue(again.isForm(CODE_FORM), again.toString());
        assertEquals(1, keycloak.mailbox.sent().size(), "a refresh sends nothing");
        assertTrue(post(flow, tab, again, "code", mailedCode("jane@example.com")).isSuccess());
    }

    @Test
    void a_wrong_code_shows_the_form_again_with_the_tries_left() {
        FlowRunner flow = keycloak.passwordlessEmail(Fixture.config());
        AuthSession tab = tab();
        Page page = toCodeForm(flow, tab);
        String code = mailedCode("jane@example.com");
        Page wrong = post(flow, tab, page, "code", Fixture.wrong(code, 0));
        assertTrue(wrong.isForm(CODE_FORM), wrong.toString());
        assertEquals("passcodeWrongCode", wrong.error());
        assertEquals(List.of(4), wrong.errorParameters());
        assertEquals(4, wrong.attributes().get("passcodeAttemptsLeft"));
        wrong = post(flow, tab, wrong, "code", Fixture.wrong(code, 1));
        assertEquals(List.of(3), wrong.errorParameters());
        assertEquals(2, keycloak.bruteForce.failedLogins(jane), "the realm's brute-force detector saw both");
        assertEquals(2, count(EventType.LOGIN_ERROR, Errors.INVALID_USER_CREDENTIALS), "both are login-error events");
        assertTrue(post(flow, tab, wrong, "code", code).isSuccess());
    }

    @Test
    void a_code_expires_by_the_host_clock_and_a_new_one_works() {
        FlowRunner flow = keycloak.passwordlessEmail(Fixture.config());
        AuthSession tab = tab();
        Page page = toCodeForm(flow, tab);
        String code = mailedCode("jane@example.com");
        clock.advance(599);
        clock.advance(1);
        Page expired = post(flow, tab, page, "code", code);
        assertEquals("passcodeExpired", expired.error());
        assertEquals(1, count(EventType.LOGIN_ERROR, Errors.EXPIRED_CODE));
        Page resent = post(flow, tab, expired, "resend", "true");
        assertTrue(resent.isForm(CODE_FORM), resent.toString());
        assertEquals(2, keycloak.mailbox.sent().size(), "a new code was sent");
        assertTrue(post(flow, tab, resent, "code", mailedCode("jane@example.com")).isSuccess());
    }

    @Test
    void a_resend_waits_for_the_cooldown_and_the_old_code_stops_working() {
        FlowRunner flow = keycloak.passwordlessEmail(Fixture.config());
        AuthSession tab = tab();
        Page page = toCodeForm(flow, tab);
        String first = mailedCode("jane@example.com");
        Page tooSoon = post(flow, tab, page, "resend", "true");
        assertEquals("passcodeResendTooSoon", tooSoon.error());
        assertEquals(List.of(30L), tooSoon.errorParameters());
        clock.advance(30);
        Page resent = post(flow, tab, tooSoon, "resend", "true");
        assertEquals("passcodeResent", resent.info());
        String second = mailedCode("jane@example.com");
        if (!second.equals(first)) {
            assertEquals("passcodeWrongCode", post(flow, tab, resent, "code", first).error());
        }
        assertTrue(post(flow, tab, resent, "code", second).isSuccess());
    }

    @Test
    void a_replayed_code_is_refused() {
        FlowRunner flow = keycloak.passwordlessEmail(Fixture.config());
        AuthSession tab = tab();
        Page page = toCodeForm(flow, tab);
        String token = tab.getAuthNote(PasscodeAuthenticator.NOTE_TOKEN);
        String code = mailedCode("jane@example.com");
        assertTrue(post(flow, tab, page, "code", code).isSuccess());
        // The same form posted again to the finished login: nothing to post to.
        assertEquals(Page.Kind.ERROR, post(flow, tab, page, "code", code).kind());
        // The whole session state replayed (the used token restored in a new tab): refused too.
        AuthSession replay = tab();
        Page form = toCodeForm(flow, replay);
        replay.setAuthNote(PasscodeAuthenticator.NOTE_TOKEN, token);
        Page refused = post(flow, replay, form, "code", code);
        assertFalse(refused.isSuccess());
        assertEquals("passcodeNoLongerValid", refused.error());
    }

    @Test
    void sign_up_creates_the_account_with_its_address_verified() {
        FlowRunner flow = keycloak.signUp(Fixture.config());
        AuthSession tab = tab();
        Page page = flow.start(tab, IP);
        assertTrue(page.isForm(PasscodeAuthenticator.ADDRESS_FORM), page.toString());
        Page code = post(flow, tab, page, "email", "New.User@Example.com");
        assertTrue(code.isForm(CODE_FORM), code.toString());
        assertNull(keycloak.session.users().getUserByEmail(keycloak.realm, "New.User@example.com"), "no account before the code");
        Page done = post(flow, tab, code, "code", mailedCode("New.User@example.com"));
        assertTrue(done.isSuccess(), done.toString());
        var user = keycloak.session.users().getUserByEmail(keycloak.realm, "New.User@example.com");
        assertNotNull(user);
        assertTrue(user.isEmailVerified(), "verified in the same step");
        assertEquals(done.user(), user.getId());
        assertEquals(1, count(EventType.REGISTER, null));
    }

    @Test
    void sign_up_answers_alike_for_a_taken_address_until_the_code_proves_it() {
        FlowRunner flow = keycloak.signUp(Fixture.config());
        AuthSession tab = tab();
        Page page = flow.start(tab, IP);
        Page code = post(flow, tab, page, "email", "jane@example.com");
        assertTrue(code.isForm(CODE_FORM), "the same answer as for a new address");
        assertEquals("passcodeSent", code.info());
        Page taken = post(flow, tab, code, "code", mailedCode("jane@example.com"));
        assertTrue(taken.isForm(PasscodeAuthenticator.ADDRESS_FORM), taken.toString());
        assertEquals("emailExistsMessage", taken.error());
        assertEquals(1, keycloak.session.users().count(), "no second account");
        Page invalid = post(flow, tab(), flow.start(tabs.get(tabs.size() - 1), IP), "email", "not an address");
        assertEquals("invalidEmailMessage", invalid.error());
    }

    @Test
    void sms_second_factor_after_a_password() {
        Path outbox = Fixture.outbox();
        FlowRunner flow = keycloak.smsSecondFactor(Fixture.outboxConfig(outbox));
        AuthSession tab = tab();
        Page page = flow.start(tab, IP);
        assertTrue(page.isForm(LoginForms.PASSWORD_FORM));
        Page bad = post(flow, tab, page, "username", "jane", "password", "wrong");
        assertEquals("invalidUserMessage", bad.error());
        Page code = post(flow, tab, bad, "username", "jane", "password", "correct horse");
        assertTrue(code.isForm(CODE_FORM), code.toString());
        assertEquals("sms", code.attributes().get("passcodeChannel"));
        assertTrue(Fixture.newestMessage(outbox).contains("To: +14155550100"));
        assertTrue(post(flow, tab, code, "code", smsCode(outbox)).isSuccess());
    }

    @Test
    void a_user_without_a_phone_number_cannot_pass_the_sms_step() {
        keycloak.user("bob", "bob@example.com", "pw");
        FlowRunner flow = keycloak.smsSecondFactor(Fixture.outboxConfig(Fixture.outbox()));
        AuthSession tab = tab();
        Page page = post(flow, tab, flow.start(tab, IP), "username", "bob", "password", "pw");
        assertEquals(Page.Kind.ERROR, page.kind());
        assertEquals("CREDENTIAL_SETUP_REQUIRED", page.error());
    }

    @Test
    void a_second_tab_cannot_skip_the_code_step() {
        Path outbox = Fixture.outbox();
        FlowRunner flow = keycloak.smsSecondFactor(Fixture.outboxConfig(outbox));
        AuthSession first = tab();
        Page firstForm = post(flow, first, flow.start(first, IP), "username", "jane", "password", "correct horse");
        String firstCode = smsCode(outbox);

        AuthSession second = tab();
        Page secondPage = flow.start(second, IP);
        // Posting straight to the code step, before the password: page expired, no success.
        Page skipped = flow.submit(second, flow.execution(1), FormParams.of("code", firstCode), IP);
        assertEquals(Page.Kind.ERROR, skipped.kind());
        assertEquals("pageExpiredMessage", skipped.error());
        // After the password, the second tab has its own challenge: the first tab's code is not it.
        clock.advance(30);
        Page secondForm = post(flow, second, secondPage, "username", "jane", "password", "correct horse");
        assertTrue(secondForm.isForm(CODE_FORM));
        String secondCode = smsCode(outbox);
        assertNotNull(second.getAuthNote(PasscodeAuthenticator.NOTE_TOKEN));
        assertFalse(second.getAuthNote(PasscodeAuthenticator.NOTE_TOKEN).equals(first.getAuthNote(PasscodeAuthenticator.NOTE_TOKEN)));
        if (!firstCode.equals(secondCode)) {
            assertFalse(post(flow, second, secondForm, "code", firstCode).isSuccess(), "another tab's code");
        }
        // A post without a code is a form again, never a success.
        assertTrue(post(flow, second, secondForm, "code", "").isForm(CODE_FORM));
        // The newer challenge replaced the first tab's: the first code is dead there too.
        assertFalse(post(flow, first, firstForm, "code", firstCode).isSuccess());
        assertTrue(post(flow, second, secondForm, "code", secondCode).isSuccess());
    }

    @Test
    void brute_force_over_many_login_sessions_stops_at_the_users_cap() {
        FlowRunner flow = keycloak.passwordlessEmail(Fixture.config());
        int sessions = 0;
        boolean hardLocked = false;
        while (!hardLocked && sessions < 60) {
            sessions++;
            clock.advance(3600); // past any temporary lock and send window: only the user's cap is left
            AuthSession tab = tab();
            Page page = post(flow, tab, flow.start(tab, IP), "username", "jane");
            if ("passcodeHardLocked".equals(page.error())) {
                hardLocked = true;
                break;
            }
            assertTrue(page.isForm(CODE_FORM) && page.error() == null, page.toString());
            String code = mailedCode("jane@example.com");
            for (int guess = 0; guess < 5; guess++) {
                page = post(flow, tab, page, "code", Fixture.wrong(code, guess));
                if ("passcodeHardLocked".equals(page.error())) {
                    hardLocked = true;
                    break;
                }
                if (!"passcodeWrongCode".equals(page.error())) {
                    break; // a temporary lock: the next session, an hour later
                }
            }
        }
        assertTrue(hardLocked, "the user was hard-locked after " + sessions + " sessions");
        long evaluated = engineEvents.stream().filter(e -> e.kind() == EventKind.FAILED).count();
        assertTrue(evaluated >= 90 && evaluated <= 100, evaluated + " wrong codes were evaluated; the cap is 100");
        assertTrue(sessions > 10, "the cap spans sessions: " + sessions);
        assertTrue(keycloak.bruteForce.failedLogins(jane) >= evaluated, "the realm's detector saw every failure");
        // Even the right code in a fresh session is refused now.
        clock.advance(86_400);
        AuthSession after = tab();
        Page locked = post(flow, after, flow.start(after, IP), "username", "jane");
        assertEquals("passcodeHardLocked", locked.error());
    }

    @Test
    void the_realms_own_lock_stops_the_code_step() {
        RunnerKeycloak strict = new RunnerKeycloak("strict", engines, 3);
        try {
            strict.user("ann", "ann@example.com", "pw");
            FlowRunner flow = strict.passwordlessEmail(Fixture.config());
            AuthSession tab = tab();
            Page page = post(flow, tab, flow.start(tab, IP), "username", "ann");
            String code = Fixture.codeIn(strict.mailbox.last("ann@example.com").text());
            codes.add(code);
            for (int i = 0; i < 3; i++) {
                page = post(flow, tab, page, "code", Fixture.wrong(code, i));
            }
            Page refused = post(flow, tab, page, "code", code);
            assertEquals("accountTemporarilyDisabledMessage", refused.error());
            assertFalse(refused.isSuccess());
        } finally {
            strict.close();
        }
    }

    @Test
    void sixteen_threads_verifying_one_challenge_through_the_shared_store_get_exactly_one_success() throws Exception {
        // Two Keycloak nodes: separate engines over one shared store (the distributed cache).
        Engines otherNode = new Engines(clock, engines.realmStore());
        otherNode.addEventListener(engineEvents::add);
        RunnerKeycloak node2 = new RunnerKeycloak("acme", otherNode, 0);
        try {
            FlowRunner flow1 = keycloak.passwordlessEmail(Fixture.config());
            FlowRunner flow2 = node2.passwordlessEmail(Fixture.config());
            AuthSession tab = tab();
            Page form = toCodeForm(flow1, tab);
            String code = mailedCode("jane@example.com");
            int threads = 16;
            ExecutorService pool = Executors.newFixedThreadPool(threads);
            CountDownLatch go = new CountDownLatch(1);
            List<Future<Page>> pages = new ArrayList<>();
            for (int i = 0; i < threads; i++) {
                // The same login replicated on each node, as Keycloak's cache would hold it.
                AuthSession replica = tab.replica();
                tabs.add(replica);
                FlowRunner flow = i % 2 == 0 ? flow1 : flow2;
                pages.add(pool.submit(() -> {
                    go.await();
                    return flow.submit(replica, form.execution(), FormParams.of("code", code), IP);
                }));
            }
            go.countDown();
            int successes = 0;
            for (Future<Page> p : pages) {
                Page page = p.get(30, TimeUnit.SECONDS);
                if (page.isSuccess()) {
                    successes++;
                } else {
                    assertEquals("passcodeNoLongerValid", page.error(), page.toString());
                }
            }
            pool.shutdown();
            assertEquals(1, successes);
            assertEquals(1, engineEvents.stream().filter(e -> e.kind() == EventKind.VERIFIED).count());
        } finally {
            node2.close();
            otherNode.close();
        }
    }

    @Test
    void realms_are_tenants_and_never_share_a_count() {
        RunnerKeycloak other = new RunnerKeycloak("other", engines, 0);
        try {
            other.user("jane", "jane@example.com", "pw");
            FlowRunner a = keycloak.passwordlessEmail(Fixture.config());
            FlowRunner b = other.passwordlessEmail(Fixture.config());
            AuthSession tabA = tab();
            Page pageA = toCodeForm(a, tabA);
            String codeA = mailedCode("jane@example.com");
            for (int i = 0; i < 3; i++) {
                pageA = post(a, tabA, pageA, "code", Fixture.wrong(codeA, i));
            }
            AuthSession tabB = tab();
            Page pageB = post(b, tabB, b.start(tabB, IP), "username", "jane");
            String codeB = Fixture.codeIn(other.mailbox.last("jane@example.com").text());
            codes.add(codeB);
            Page wrongB = post(b, tabB, pageB, "code", Fixture.wrong(codeB, 0));
            assertEquals(List.of(4), wrongB.errorParameters(), "the other realm's guesses do not count here");
        } finally {
            other.close();
        }
    }

    @Test
    void a_config_without_a_key_is_refused_with_its_field_named() {
        FlowRunner flow = keycloak.passwordlessEmail(Map.of());
        AuthSession tab = tab();
        Page page = post(flow, tab, flow.start(tab, IP), "username", "jane");
        assertEquals(Page.Kind.ERROR, page.kind());
        assertEquals("INTERNAL_ERROR", page.error());
        assertTrue(logs.lines().stream().anyMatch(l -> l.contains("key-file")), "the log names the missing field");
        assertEquals(0, keycloak.mailbox.sent().size());
    }

    @Test
    void the_same_authenticator_on_redis_through_the_config() {
        String url = System.getenv("PASSCODE_TEST_REDIS_URL");
        assertNotNull(url, "PASSCODE_TEST_REDIS_URL must name the Redis server the test run started (ffi/tests/java.rs starts one)");
        Map<String, String> config = Fixture.config(PasscodeSettings.STORE, url);
        // Two nodes with nothing in common but Redis: separate engines, separate realm stores.
        Engines otherNode = new Engines(clock, new RealmStore());
        RunnerKeycloak node2 = new RunnerKeycloak("acme", otherNode, 0);
        try {
            FlowRunner flow1 = keycloak.passwordlessEmail(config);
            FlowRunner flow2 = node2.passwordlessEmail(config);
            AuthSession tab = tab();
            Page form = toCodeForm(flow1, tab);
            String code = mailedCode("jane@example.com");
            assertEquals(0, engines.realmStore().size(), "nothing in the realm store: the records are in Redis");
            Page wrong = post(flow1, tab, form, "code", Fixture.wrong(code, 0));
            assertEquals(List.of(4), wrong.errorParameters());
            AuthSession replica = tab.replica();
            tabs.add(replica);
            Page wrong2 = flow2.submit(replica, form.execution(), FormParams.of("code", Fixture.wrong(code, 1)), IP);
            assertEquals(List.of(3), wrong2.errorParameters(), "one count across both nodes");
            assertTrue(flow2.submit(replica, form.execution(), FormParams.of("code", code), IP).isSuccess());
            assertFalse(post(flow1, tab, form, "code", code).isSuccess(), "used on the other node");
        } finally {
            node2.close();
            otherNode.close();
        }
    }
}
