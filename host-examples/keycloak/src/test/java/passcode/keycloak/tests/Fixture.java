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
