package passcode.keycloak.tests;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import java.util.OptionalInt;
import java.util.OptionalLong;
import java.util.concurrent.CopyOnWriteArrayList;
import org.junit.jupiter.api.Test;
import passcode.jna.Channel;
import passcode.jna.EventKind;
import passcode.jna.HostParts;
import passcode.jna.HostStore;
import passcode.jna.Issued;
import passcode.jna.PasscodeEngine;
import passcode.jna.PasscodeEvent;
import passcode.jna.PasscodeException;
import passcode.jna.PasscodeStatus;
import passcode.jna.Purpose;
import passcode.jna.Verified;
import passcode.keycloak.RealmStore;

/** The JNA binding holds the C ABI's contracts: statuses, failure details, callbacks, lifetimes. */
class BindingTest {
    private static String config() {
        return "[[keys.ring]]\nid = 1\nfile = \"" + Fixture.keyFile() + "\"\n";
    }

    @Test
    void every_status_has_the_librarys_number_and_text() {
        for (PasscodeStatus s : PasscodeStatus.values()) {
            if (s == PasscodeStatus.OTHER) {
                continue;
            }
            assertEquals(s, PasscodeStatus.of(s.number()));
            assertNotEquals("passcode status " + s.number(), PasscodeStatus.text(s.number()), s + " is not a status of the library");
        }
        assertEquals(PasscodeStatus.OTHER, PasscodeStatus.of(9999));
        assertEquals(3001, PasscodeStatus.WRONG_CODE.number());
    }

    @Test
    void the_library_is_the_version_this_build_made() {
        String expected = System.getProperty("passcode.expectedVersion");
        assertTrue(expected != null && !expected.isEmpty(), "the test run passes -Dpasscode.expectedVersion");
        assertEquals(expected, PasscodeEngine.version());
        assertEquals(1, PasscodeEngine.abiVersion());
    }

    @Test
    void a_wrong_code_carries_the_tries_left_and_changes_nothing_else() throws Exception {
        try (PasscodeEngine engine = PasscodeEngine.open(config())) {
            Issued issued = engine.issue(Channel.EMAIL, Purpose.SIGN_IN, "jane@example.com", "203.0.113.7", null);
            assertEquals(Channel.EMAIL, issued.channel());
            assertFalse(issued.toString().contains(issued.code()), "toString leaves the code out");
            PasscodeException e = assertThrows(PasscodeException.class, () -> engine.verify(issued.token(), Fixture.wrong(issued.code(), 0)));
            assertEquals(PasscodeStatus.WRONG_CODE, e.status());
            assertEquals(OptionalInt.of(4), e.attemptsLeft());
            assertEquals(OptionalLong.empty(), e.retryAfter());
            assertFalse(e.getMessage().contains(issued.code()));
            Verified v = engine.verify(issued.token(), issued.code());
            assertEquals("jane@example.com", v.identifier());
            assertEquals(Purpose.SIGN_IN, v.purpose());
            assertEquals(PasscodeStatus.NOT_FOUND, assertThrows(PasscodeException.class, () -> engine.verify(issued.token(), issued.code())).status());
        }
    }

    @Test
    void send_limits_carry_retry_after() throws Exception {
        try (PasscodeEngine engine = PasscodeEngine.open(config())) {
            Issued issued = engine.issue(Channel.SMS, Purpose.SECOND_FACTOR, "+14155550100", null, null);
            PasscodeException e = assertThrows(PasscodeException.class, () -> engine.resend(issued.token(), null, null));
            assertEquals(PasscodeStatus.RESEND_TOO_SOON, e.status());
            assertTrue(e.retryAfter().isPresent() && e.retryAfter().getAsLong() > 0 && e.retryAfter().getAsLong() <= 30);
        }
    }

    @Test
    void bad_input_is_a_status_not_a_crash() throws Exception {
        try (PasscodeEngine engine = PasscodeEngine.open(config())) {
            assertEquals(PasscodeStatus.INVALID_EMAIL,
                    assertThrows(PasscodeException.class, () -> engine.issue(Channel.EMAIL, Purpose.SIGN_IN, "not an address", null, null)).status());
            assertEquals(PasscodeStatus.INVALID_PHONE,
                    assertThrows(PasscodeException.class, () -> engine.issue(Channel.SMS, Purpose.SIGN_IN, "0123", null, null)).status());
            assertEquals(PasscodeStatus.INVALID_TOKEN,
                    assertThrows(PasscodeException.class, () -> engine.verify("garbage", "123456")).status());
            assertEquals(PasscodeStatus.INVALID_CLIENT_ADDRESS,
                    assertThrows(PasscodeException.class, () -> engine.issue(Channel.EMAIL, Purpose.SIGN_IN, "a@example.com", "nope", null)).status());
            assertEquals(PasscodeStatus.INPUT_TOO_LONG,
                    assertThrows(PasscodeException.class, () -> engine.verify("x".repeat(70_000), "1")).status());
        }
        assertEquals(PasscodeStatus.UNKNOWN_CONFIG_FIELD, assertThrows(PasscodeException.class, () -> PasscodeEngine.open("nonsense = 1")).status());
        assertEquals(PasscodeStatus.POLICY_OUT_OF_BOUNDS,
                assertThrows(PasscodeException.class, () -> PasscodeEngine.open("[policy]\ncode_length = 4\n")).status());
    }

    @Test
    void host_store_clock_and_events_are_the_engines() throws Exception {
        Fixture.Clock clock = new Fixture.Clock();
        RealmStore store = new RealmStore();
        List<PasscodeEvent> events = new CopyOnWriteArrayList<>();
        try (PasscodeEngine engine = PasscodeEngine.open(config(), new HostParts().store(store).clock(clock).events(events::add))) {
            Issued issued = engine.issue(Channel.EMAIL, Purpose.SIGN_IN, "jane@example.com", null, null);
            assertEquals(clock.getAsLong() + 600, issued.expiresAt(), "expiry by the host's clock");
            assertTrue(store.size() >= 1, "the record is in the host's store");
            clock.advance(600);
            assertEquals(PasscodeStatus.EXPIRED, assertThrows(PasscodeException.class, () -> engine.verify(issued.token(), issued.code())).status());
        }
        assertEquals(List.of(EventKind.ISSUED, EventKind.EXPIRED), events.stream().map(PasscodeEvent::kind).toList());
        for (PasscodeEvent e : events) {
            assertTrue(e.subject().matches("[0-9a-f]{16}"), "a pseudonym");
            assertEquals(Channel.EMAIL, e.channel());
        }
    }

    @Test
    void a_failing_host_store_fails_closed() throws Exception {
        HostStore broken = new HostStore() {
            @Override
            public Entry get(byte[] key, long now) throws Exception {
                throw new java.io.IOException("down");
            }

            @Override
            public long put(byte[] key, byte[] value, long ttl, long expected, long now) throws Exception {
                throw new java.io.IOException("down");
            }

            @Override
            public boolean remove(byte[] key, long version, long now) throws Exception {
                throw new java.io.IOException("down");
            }
        };
        try (PasscodeEngine engine = PasscodeEngine.open(config(), new HostParts().store(broken))) {
            assertEquals(PasscodeStatus.STORE_UNAVAILABLE,
                    assertThrows(PasscodeException.class, () -> engine.issue(Channel.EMAIL, Purpose.SIGN_IN, "jane@example.com", null, null)).status());
        }
    }

    @Test
    void a_closed_engine_refuses_calls_and_closes_once() throws Exception {
        PasscodeEngine engine = PasscodeEngine.open(config());
        engine.close();
        engine.close();
        assertThrows(IllegalStateException.class, () -> engine.issue(Channel.EMAIL, Purpose.SIGN_IN, "jane@example.com", null, null));
    }
}
