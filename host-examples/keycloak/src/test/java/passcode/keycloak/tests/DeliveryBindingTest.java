package passcode.keycloak.tests;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.Test;
import passcode.jna.Channel;
import passcode.jna.DeliveryEvent;
import passcode.jna.DeliveryEventKind;
import passcode.jna.Issued;
import passcode.jna.PasscodeDelivery;
import passcode.jna.PasscodeEngine;
import passcode.jna.PasscodeException;
import passcode.jna.PasscodeStatus;
import passcode.jna.Purpose;

/**
 * The binding's delivery: PasscodeDelivery and the engine's issue-and-send calls hold the C ABI's
 * contracts (the queue's place taken before a code exists, deliver = false sending nothing, events
 * copied into Java from delivery's native threads, the listener kept alive, close()). Delivery
 * goes to a development outbox here, so these need no server; DeliveryTest uses real ones.
 */
class DeliveryBindingTest {
    private static String engineConfig() {
        return "[[keys.ring]]\nid = 1\nfile = \"" + Fixture.keyFile() + "\"\n";
    }

    private static String outboxConfig(Path dir) {
        return "[delivery]\nworkers = 2\n[delivery.outbox]\ndir = \"" + dir + "\"\n";
    }

    /** Files the outbox holds. */
    private static List<Path> outboxFiles(Path dir) throws Exception {
        if (!Files.isDirectory(dir)) {
            return List.of();
        }
        try (var files = Files.list(dir)) {
            return files.sorted().toList();
        }
    }

    /** Waits up to 20 s for n events of a kind; fails if another number came. */
    private static List<DeliveryEvent> await(List<DeliveryEvent> events, DeliveryEventKind kind, int n) throws Exception {
        long deadline = System.nanoTime() + 20_000_000_000L;
        while (true) {
            List<DeliveryEvent> found = events.stream().filter(e -> e.kind() == kind).toList();
            if (found.size() >= n || System.nanoTime() > deadline) {
                assertEquals(n, found.size(), kind + " events: " + events);
                return found;
            }
            Thread.sleep(10);
        }
    }

    private static void assertNoSecrets(List<DeliveryEvent> events, String code, String recipient) {
        for (DeliveryEvent e : events) {
            assertFalse(Fixture.holds(e.toString(), code), "a delivery event holds the code: " + e);
            assertFalse(e.toString().contains(recipient), "a delivery event holds the recipient: " + e);
        }
    }

    @Test
    void issue_and_send_queues_the_message_and_names_purpose_and_subject() throws Exception {
        Path outbox = Fixture.outbox();
        List<DeliveryEvent> events = new CopyOnWriteArrayList<>();
        try (PasscodeEngine engine = PasscodeEngine.open(engineConfig());
                PasscodeDelivery delivery = PasscodeDelivery.open(outboxConfig(outbox), events::add)) {
            Issued issued = engine.issueAndSend(delivery, true, Channel.EMAIL, Purpose.SIGN_IN, "ana@example.org", null, null);
            assertEquals(Purpose.SIGN_IN, issued.purpose());
            assertTrue(issued.subject().matches("[0-9a-f]{16}"), issued.subject());
            assertFalse(issued.toString().contains("ana@example.org"), "toString leaves the recipient out");
            // QUEUED is heard on this thread before the call returns; SENT on a worker thread.
            assertEquals(DeliveryEventKind.QUEUED, events.get(0).kind());
            DeliveryEvent sent = await(events, DeliveryEventKind.SENT, 1).get(0);
            assertEquals(events.get(0).messageId(), sent.messageId());
            assertEquals(issued.subject(), sent.subject());
            assertEquals(Channel.EMAIL, sent.channel());
            assertEquals(Purpose.SIGN_IN, sent.purpose());
            assertEquals("outbox", sent.sender());
            assertEquals(1, sent.attempt());
            assertTrue(sent.retryInMs().isEmpty());
            List<Path> files = outboxFiles(outbox);
            assertEquals(1, files.size(), files.toString());
            assertTrue(Fixture.holds(Files.readString(files.get(0)), issued.code()), "the message holds the code");
            assertNoSecrets(events, issued.code(), "ana@example.org");
            assertEquals(Purpose.SIGN_IN, engine.verify(issued.token(), issued.code()).purpose());
        }
    }

    @Test
    void deliver_false_takes_the_same_steps_and_sends_nothing() throws Exception {
        Path outbox = Fixture.outbox();
        List<DeliveryEvent> events = new CopyOnWriteArrayList<>();
        try (PasscodeEngine engine = PasscodeEngine.open(engineConfig());
                PasscodeDelivery delivery = PasscodeDelivery.open(outboxConfig(outbox), events::add)) {
            Issued issued = engine.issueAndSend(delivery, false, Channel.EMAIL, Purpose.SIGN_IN, "nobody@example.org", null, null);
            assertFalse(issued.token().isEmpty());
            assertEquals(Purpose.SIGN_IN, issued.purpose());
            // The challenge is real (its cooldown applies), and its resend sends nothing either.
            PasscodeException soon = assertThrows(PasscodeException.class,
                    () -> engine.resendAndSend(delivery, false, issued.token(), null, null));
            assertEquals(PasscodeStatus.RESEND_TOO_SOON, soon.status());
        }
        // Closing drained the queue: had anything been queued, it would have been written by now.
        assertEquals(List.of(), events);
        assertEquals(List.of(), outboxFiles(outbox));
    }

    @Test
    void resend_and_send_queues_the_new_code_and_the_old_one_stops_working() throws Exception {
        Path outbox = Fixture.outbox();
        List<DeliveryEvent> events = new CopyOnWriteArrayList<>();
        AtomicLong clock = new AtomicLong(1_800_000_000L);
        try (PasscodeEngine engine = PasscodeEngine.open(engineConfig(), new passcode.jna.HostParts().clock(clock::get));
                PasscodeDelivery delivery = PasscodeDelivery.open(outboxConfig(outbox), events::add)) {
            Issued first = engine.issueAndSend(delivery, true, Channel.SMS, Purpose.SECOND_FACTOR, "+14155550123", null, null);
            clock.addAndGet(30);
            Issued second = engine.resendAndSend(delivery, true, first.token(), null, null);
            assertEquals(first.token(), second.token(), "a resend keeps the token");
            assertEquals(first.subject(), second.subject());
            await(events, DeliveryEventKind.SENT, 2);
            if (!first.code().equals(second.code())) {
                assertEquals(PasscodeStatus.WRONG_CODE,
                        assertThrows(PasscodeException.class, () -> engine.verify(first.token(), first.code())).status());
            }
            assertEquals(Channel.SMS, engine.verify(second.token(), second.code()).channel());
            assertNoSecrets(events, second.code(), "4155550123");
        }
    }

    @Test
    void issue_and_send_for_account_makes_the_account_the_subject() throws Exception {
        Path outbox = Fixture.outbox();
        List<DeliveryEvent> events = new CopyOnWriteArrayList<>();
        try (PasscodeEngine engine = PasscodeEngine.open(engineConfig());
                PasscodeDelivery delivery = PasscodeDelivery.open(outboxConfig(outbox), events::add)) {
            Issued byMail = engine.issueAndSendForAccount(
                    delivery, true, "account-17", Channel.EMAIL, Purpose.SIGN_IN, "ana@example.org", null, null);
            // The account's number is the same subject: its purpose's cooldown applies.
            PasscodeException soon = assertThrows(PasscodeException.class, () -> engine.issueAndSendForAccount(
                    delivery, true, "account-17", Channel.SMS, Purpose.SIGN_IN, "+14155550125", null, null));
            assertEquals(PasscodeStatus.RESEND_TOO_SOON, soon.status());
            PasscodeException bad = assertThrows(PasscodeException.class, () -> engine.issueAndSendForAccount(
                    delivery, true, "", Channel.EMAIL, Purpose.SIGN_IN, "ana@example.org", null, null));
            assertEquals(PasscodeStatus.INVALID_ARGUMENT, bad.status());
            await(events, DeliveryEventKind.SENT, 1);
            assertEquals("account-17", engine.verify(byMail.token(), byMail.code()).account());
            assertNoSecrets(events, byMail.code(), "account-17");
        }
    }

    @Test
    void a_channel_without_a_sender_issues_no_code() throws Exception {
        String emailOnly = "[delivery.email]\nhost = \"127.0.0.1\"\nport = 2525\ntls = \"none\"\nfrom = \"a@example.org\"\n";
        try (PasscodeEngine engine = PasscodeEngine.open(engineConfig());
                PasscodeDelivery delivery = PasscodeDelivery.open(emailOnly)) {
            PasscodeException e = assertThrows(PasscodeException.class,
                    () -> engine.issueAndSend(delivery, true, Channel.SMS, Purpose.SIGN_IN, "+14155550124", null, null));
            assertEquals(PasscodeStatus.NO_SENDER, e.status());
            assertEquals(8002, e.number());
            // Nothing was issued: a new challenge is not held back by a resend cooldown.
            engine.issue(Channel.SMS, Purpose.SIGN_IN, "+14155550124", null, null);
        }
    }

    @Test
    void a_bad_delivery_config_is_refused_with_its_status() {
        assertEquals(PasscodeStatus.UNKNOWN_CONFIG_FIELD,
                assertThrows(PasscodeException.class, () -> PasscodeDelivery.open("[delivery]\nbogus = 1\n")).status());
        // A secret must be a variable or a file, never a literal.
        assertEquals(PasscodeStatus.UNKNOWN_CONFIG_FIELD, assertThrows(PasscodeException.class,
                () -> PasscodeDelivery.open("[delivery.sms]\naccount_sid = \"AC1\"\nauth_token = \"literal\"\nfrom = \"+15005550006\"\n"))
                .status());
        PasscodeException e = assertThrows(PasscodeException.class, () -> PasscodeDelivery.open(
                "[delivery.sms]\naccount_sid = \"AC1\"\nauth_token_env = \"PASSCODE_TEST_UNSET_VARIABLE\"\nfrom = \"+15005550006\"\n"));
        assertEquals(PasscodeStatus.POLICY_OUT_OF_BOUNDS, e.status());
        assertFalse(e.getMessage().contains("PASSCODE_TEST_UNSET_VARIABLE"));
    }

    @Test
    void a_failing_listener_never_reaches_c_and_a_closed_delivery_refuses_calls() throws Exception {
        Path outbox = Fixture.outbox();
        AtomicInteger heard = new AtomicInteger();
        PasscodeDelivery delivery = PasscodeDelivery.open(outboxConfig(outbox), e -> {
            heard.incrementAndGet();
            throw new IllegalStateException("a listener bug");
        });
        try (PasscodeEngine engine = PasscodeEngine.open(engineConfig())) {
            engine.issueAndSend(delivery, true, Channel.EMAIL, Purpose.SIGN_IN, "ana@example.org", null, null);
            engine.issueAndSend(delivery, true, Channel.EMAIL, Purpose.SIGN_UP, "ana@example.org", null, null);
            delivery.close();
            assertEquals(4, heard.get(), "QUEUED and SENT for both messages, each heard despite the exceptions");
            assertEquals(2, outboxFiles(outbox).size());
            delivery.close(); // twice is harmless
            assertThrows(IllegalStateException.class,
                    () -> engine.issueAndSend(delivery, true, Channel.EMAIL, Purpose.SIGN_IN, "bo@example.org", null, null));
            // The engine itself is unaffected.
            engine.issue(Channel.EMAIL, Purpose.SIGN_IN, "bo@example.org", null, null);
        }
    }

    @Test
    void sixteen_threads_issue_and_send_on_one_delivery_and_every_event_arrives() throws Exception {
        Path outbox = Fixture.outbox();
        List<DeliveryEvent> events = new CopyOnWriteArrayList<>();
        int threads = 16;
        try (PasscodeEngine engine = PasscodeEngine.open(engineConfig());
                PasscodeDelivery delivery = PasscodeDelivery.open(outboxConfig(outbox), events::add)) {
            ExecutorService pool = Executors.newFixedThreadPool(threads);
            CountDownLatch go = new CountDownLatch(1);
            List<Future<Issued>> issued = new ArrayList<>();
            for (int i = 0; i < threads; i++) {
                String to = "user" + i + "@example.org";
                issued.add(pool.submit(() -> {
                    go.await();
                    return engine.issueAndSend(delivery, true, Channel.EMAIL, Purpose.SIGN_IN, to, null, null);
                }));
            }
            go.countDown();
            List<String> subjects = new ArrayList<>();
            for (Future<Issued> f : issued) {
                subjects.add(f.get(30, TimeUnit.SECONDS).subject());
            }
            pool.shutdown();
            List<DeliveryEvent> sent = await(events, DeliveryEventKind.SENT, threads);
            assertEquals(threads, events.stream().filter(e -> e.kind() == DeliveryEventKind.QUEUED).count());
            assertEquals(threads, sent.stream().map(DeliveryEvent::messageId).distinct().count());
            assertEquals(subjects.stream().sorted().toList(), sent.stream().map(DeliveryEvent::subject).sorted().toList());
        }
        assertEquals(threads, outboxFiles(outbox).size());
    }
}
