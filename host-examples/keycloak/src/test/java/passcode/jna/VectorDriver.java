package passcode.jna;

import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.io.PrintStream;
import java.net.URLDecoder;
import java.net.URLEncoder;
import java.nio.charset.StandardCharsets;
import java.util.concurrent.atomic.AtomicLong;

/**
 * The JNA binding as a surface of the project's scenario vectors: the Rust runner
 * (tests/vector-runner, through ffi/tests/java.rs) sends one operation a line and reads one answer
 * a line, so the vectors are interpreted in one place for every surface. Fields are separated by
 * spaces and percent-encoded; "~" is an absent field. Answers: "ok FIELDS..." or
 * "err NUMBER ATTEMPTS_LEFT RETRY_AFTER". The engine's clock is this driver's, moved by "advance".
 * In package passcode.jna so that a vector's unknown channel or purpose reaches the C ABI as a raw
 * number, as with every surface.
 */
public final class VectorDriver {
    private static final AtomicLong CLOCK = new AtomicLong();
    private static PasscodeEngine engine;

    public static void main(String[] args) throws Exception {
        BufferedReader in = new BufferedReader(new InputStreamReader(System.in, StandardCharsets.UTF_8));
        PrintStream out = new PrintStream(System.out, true, StandardCharsets.UTF_8);
        for (String line; (line = in.readLine()) != null; ) {
            String[] f = line.split(" ", -1);
            String answer;
            try {
                answer = "ok" + run(f);
            } catch (PasscodeException e) {
                answer = "err " + e.number() + " " + (e.attemptsLeft().isPresent() ? e.attemptsLeft().getAsInt() : "~") + " "
                        + (e.retryAfter().isPresent() ? e.retryAfter().getAsLong() : "~");
            }
            out.println(answer);
        }
        if (engine != null) {
            engine.close();
        }
    }

    private static String arg(String[] f, int i) {
        return f[i].equals("~") ? null : URLDecoder.decode(f[i], StandardCharsets.UTF_8);
    }

    private static String enc(Object o) {
        return " " + URLEncoder.encode(String.valueOf(o), StandardCharsets.UTF_8);
    }

    private static int channel(String name) {
        Channel c = Channel.named(name);
        return c == null ? 99 : c.number();
    }

    private static String run(String[] f) throws PasscodeException {
        switch (f[0]) {
            case "open" -> {
                if (engine != null) {
                    engine.close();
                }
                engine = null;
                CLOCK.set(Long.parseUnsignedLong(f[2])); // up to 2^64 - 1 (a vector of the clock's range)
                engine = PasscodeEngine.open(arg(f, 1), new HostParts().clock(CLOCK::get));
                return "";
            }
            case "advance" -> {
                CLOCK.addAndGet(Long.parseLong(f[1]));
                return "";
            }
            case "issue" -> {
                Purpose p = Purpose.named(arg(f, 3));
                String account = f.length > 6 ? arg(f, 6) : null;
                if (account != null) {
                    return issued(engine.issueForAccount(account, Channel.named(arg(f, 1)), p, arg(f, 2), arg(f, 4), arg(f, 5)));
                }
                return issued(engine.issue(channel(arg(f, 1)), p == null ? 99 : p.number(), arg(f, 2), arg(f, 4), arg(f, 5)));
            }
            case "resend" -> {
                return issued(engine.resend(arg(f, 1), arg(f, 2), null));
            }
            case "verify" -> {
                Verified v = engine.verify(arg(f, 1), arg(f, 2));
                String account = v.account() == null ? "" : v.account();
                return enc(v.identifier()) + enc(v.channel().label()) + enc(v.purpose().label()) + enc(account);
            }
            case "cancel" -> {
                engine.cancel(arg(f, 1));
                return "";
            }
            case "unlock" -> {
                engine.unlock(channel(arg(f, 1)), arg(f, 2));
                return "";
            }
            case "unlockAccount" -> {
                engine.unlockAccount(arg(f, 1));
                return "";
            }
            default -> throw new IllegalArgumentException("unknown operation " + f[0]);
        }
    }

    private static String issued(Issued i) {
        String text = i.channel() == Channel.SMS ? i.smsText() : i.emailText();
        return enc(i.token()) + enc(i.code()) + enc(i.expiresAt()) + enc(i.resendAt()) + enc(text);
    }
}
