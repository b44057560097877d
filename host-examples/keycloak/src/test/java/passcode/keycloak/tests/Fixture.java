package passcode.keycloak.tests;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.SecureRandom;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.LongSupplier;
import java.util.logging.Handler;
import java.util.logging.LogRecord;
import java.util.logging.Logger;
import java.util.logging.SimpleFormatter;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import passcode.keycloak.PasscodeSettings;

/** What the tests share: a key file, a clock the test moves, configs, reading codes, capturing logs. */
final class Fixture {
    private Fixture() {}

    private static Path key;

    /** A random 32-byte key (hex) in a file, the same for the whole run (as every node of a realm). */
    static synchronized Path keyFile() {
        if (key == null) {
            try {
                Path dir = Files.createTempDirectory("passcode-keycloak-tests");
                dir.toFile().deleteOnExit();
                key = dir.resolve("key.hex");
                byte[] bytes = new byte[32];
                new SecureRandom().nextBytes(bytes);
                Files.writeString(key, HexFormat.of().formatHex(bytes));
                key.toFile().deleteOnExit();
            } catch (IOException e) {
                throw new UncheckedIOException(e);
            }
        }
        return key;
    }

    /** The host clock the tests move (Unix seconds). */
    static final class Clock implements LongSupplier {
        private final AtomicLong now = new AtomicLong(1_800_000_000L);

        @Override
        public long getAsLong() {
            return now.get();
        }

        void advance(long seconds) {
            now.addAndGet(seconds);
        }
    }

    /** An authenticator config: the key file and the given name, value pairs. */
    static Map<String, String> config(String... pairs) {
        Map<String, String> c = new HashMap<>();
        c.put(PasscodeSettings.KEY_FILE, keyFile().toString());
        for (int i = 0; i + 1 < pairs.length; i += 2) {
            c.put(pairs[i], pairs[i + 1]);
        }
        return c;
    }

    /** An authenticator config delivering into a development outbox folder. */
    static Map<String, String> outboxConfig(Path outbox) {
        return config(PasscodeSettings.DELIVERY, PasscodeSettings.DELIVERY_OUTBOX, PasscodeSettings.OUTBOX_DIR, outbox.toString());
    }

    /** A new empty folder for an outbox, removed with what it holds when the run ends. */
    static Path outbox() {
        try {
            Path dir = Files.createTempDirectory("passcode-outbox");
            Runtime.getRuntime().addShutdownHook(new Thread(() -> {
                try (var files = Files.walk(dir)) {
                    files.sorted(Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
                } catch (IOException ignored) {
                    // Best effort: a temporary folder.
                }
            }));
            return dir;
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** The newest message in an outbox folder. */
    static String newestMessage(Path outbox) {
        try (var files = Files.list(outbox)) {
            Path newest = files.max(Comparator.comparingLong(p -> Long.parseLong(p.getFileName().toString().split("[-.]")[1])))
                    .orElseThrow(() -> new AssertionError("the outbox is empty"));
            return Files.readString(newest);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /**
     * What the real servers the test run started (an SMTP server, an SMS provider's stand-in)
     * received, as ffi/tests/java.rs copies it into the folder PASSCODE_TEST_INBOX: one file per
     * message, {@code NNNNNN-email.txt} (the raw mail) or {@code NNNNNN-sms.txt} (the SMS text),
     * its first line {@code to: RECIPIENT}.
     */
    static final class Inbox {
        private Inbox() {}

        /** The folder; a test that needs the servers fails (never skips) without it. */
        static Path dir() {
            String dir = System.getenv("PASSCODE_TEST_INBOX");
            if (dir == null || dir.isEmpty()) {
                throw new AssertionError("PASSCODE_TEST_INBOX is not set: run these tests through ffi/tests/java.rs,"
                        + " which starts the SMTP server and the SMS provider stand-in");
            }
            return Path.of(dir);
        }

        /** A variable the test run sets, or an AssertionError naming it. */
        static String env(String name) {
            String v = System.getenv(name);
            if (v == null || v.isEmpty()) {
                throw new AssertionError(name + " is not set: run these tests through ffi/tests/java.rs");
            }
            return v;
        }

        /** Every message received for a recipient, oldest first, each without its "to:" line. */
        static List<String> messagesTo(String to) {
            List<String> found = new ArrayList<>();
            try (var files = Files.list(dir())) {
                for (Path f : files.filter(p -> p.toString().endsWith(".txt")).sorted().toList()) {
                    String text = Files.readString(f);
                    int eol = text.indexOf('\n');
                    if (eol > 0 && text.substring(0, eol).equals("to: " + to)) {
                        found.add(text.substring(eol + 1));
                    }
                }
            } catch (IOException e) {
                throw new UncheckedIOException(e);
            }
            return found;
        }

        /** The n-th message (from 1) for a recipient, waiting up to 20 s for it to arrive. */
        static String await(String to, int n) {
            long deadline = System.nanoTime() + 20_000_000_000L;
            while (true) {
                List<String> m = messagesTo(to);
                if (m.size() >= n) {
                    return m.get(n - 1);
                }
                if (System.nanoTime() > deadline) {
                    throw new AssertionError("message " + n + " did not arrive within 20 s (" + m.size() + " did)");
                }
                try {
                    Thread.sleep(20);
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                    throw new AssertionError(e);
                }
            }
        }
    }

    /**
     * The text part of a raw MIME mail (quoted-printable soft breaks undone): where the code is.
     * The headers are left out, since a Message-ID or a date can hold a run of six digits.
     */
    static String mailText(String raw) {
        String mail = raw.replace("\r\n", "\n");
        int part = mail.indexOf("Content-Type: text/plain");
        if (part < 0) {
            throw new AssertionError("the mail has no text/plain part");
        }
        int body = mail.indexOf("\n\n", part);
        int end = mail.indexOf("\n--", body);
        return mail.substring(body + 2, end < 0 ? mail.length() : end).replace("=\n", "");
    }

    private static final Pattern SIX_DIGITS = Pattern.compile("(?<![0-9])[0-9]{6}(?![0-9])");

    /** The six-digit code in a message. */
    static String codeIn(String message) {
        Matcher m = SIX_DIGITS.matcher(message);
        if (!m.find()) {
            throw new AssertionError("no code in the message");
        }
        return m.group();
    }

    /** A code of the same shape that is not this one. */
    static String wrong(String code, int salt) {
        int n = (Integer.parseInt(code) + 1 + salt) % 1_000_000;
        return String.format("%06d", n);
    }

    /** Whether text holds the code as a whole number (not inside a longer one). */
    static boolean holds(String text, String code) {
        return text != null && Pattern.compile("(?<![0-9])" + code + "(?![0-9])").matcher(text).find();
    }

    /** Every log line written while it is open, formatted as a handler would print it. */
    static final class Logs implements AutoCloseable {
        private final List<String> lines = new ArrayList<>();
        private final Handler handler = new Handler() {
            private final SimpleFormatter format = new SimpleFormatter();

            @Override
            public void publish(LogRecord record) {
                synchronized (lines) {
                    lines.add(format.format(record));
                }
            }

            @Override
            public void flush() {}

            @Override
            public void close() {}
        };

        Logs() {
            Logger.getLogger("").addHandler(handler);
        }

        List<String> lines() {
            synchronized (lines) {
                return List.copyOf(lines);
            }
        }

        @Override
        public void close() {
            Logger.getLogger("").removeHandler(handler);
        }
    }
}
