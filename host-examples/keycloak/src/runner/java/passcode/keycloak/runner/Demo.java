package passcode.keycloak.runner;

import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpServer;
import java.io.IOException;
import java.io.InputStream;
import java.net.InetSocketAddress;
import java.net.URLDecoder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.SecureRandom;
import java.text.MessageFormat;
import java.util.HexFormat;
import java.util.Map;
import java.util.Properties;
import java.util.concurrent.ConcurrentHashMap;
import passcode.keycloak.Engines;
import passcode.keycloak.PasscodeSettings;
import passcode.keycloak.RealmStore;

/**
 * DEVELOPMENT ONLY: the four flows served over HTTP on loopback with the JDK's HTTP server, the
 * runner playing Keycloak and rendering its forms as plain HTML (Keycloak renders the theme's
 * FreeMarker templates instead). Codes go to ./outbox/, since nothing is delivered.
 *
 * <p>java -cp ... passcode.keycloak.runner.Demo [port]; then open http://127.0.0.1:PORT/ and sign in
 * as jane (password "demo"), or sign up with any address.
 */
public final class Demo {
    private final Map<String, FlowRunner> flows;
    private final Map<String, AuthSession> tabs = new ConcurrentHashMap<>();
    private final Properties messages = new Properties();

    private Demo(Map<String, FlowRunner> flows) throws IOException {
        this.flows = flows;
        try (InputStream in = Demo.class.getResourceAsStream("/theme-resources/messages/messages_en.properties")) {
            if (in != null) {
                messages.load(in);
            }
        }
    }

    public static void main(String[] args) throws Exception {
        int port = args.length > 0 ? Integer.parseInt(args[0]) : 8081;
        // A random key for this process only: a real realm names a key file every node shares.
        Path key = Files.createTempFile("passcode-demo-key", ".hex");
        byte[] bytes = new byte[32];
        new SecureRandom().nextBytes(bytes);
        Files.writeString(key, HexFormat.of().formatHex(bytes));
        key.toFile().deleteOnExit();
        Map<String, String> config = Map.of(
                PasscodeSettings.KEY_FILE, key.toString(),
                PasscodeSettings.DELIVERY, PasscodeSettings.DELIVERY_OUTBOX,
                PasscodeSettings.OUTBOX_DIR, "outbox");
        RunnerKeycloak keycloak = new RunnerKeycloak("demo", new Engines(() -> System.currentTimeMillis() / 1000, new RealmStore()), 30);
        keycloak.user("jane", "jane@example.com", "demo").setSingleAttribute("phoneNumber", "+14155550100");
        Demo demo = new Demo(Map.of(
                "passwordless", keycloak.passwordlessEmail(config),
                "sms", keycloak.smsSecondFactor(config),
                "sign-up", keycloak.signUp(config),
                "address", keycloak.addressSignIn(config)));
        HttpServer server = HttpServer.create(new InetSocketAddress("127.0.0.1", port), 0);
        server.createContext("/", demo::handle);
        server.start();
        System.out.println("Passcode Keycloak demo (DEVELOPMENT ONLY): open http://127.0.0.1:" + port + "/  (codes in ./outbox/)");
    }

    private void handle(HttpExchange x) throws IOException {
        try (x) {
            String path = x.getRequestURI().getPath();
            if (path.equals("/")) {
                send(x, 200, "<h1>Passcode in a Keycloak-style flow</h1><ul>"
                        + "<li><a href=\"/login/passwordless\">Sign in with an email code</a> (user: jane)</li>"
                        + "<li><a href=\"/login/sms\">Password, then an SMS code</a> (jane / demo)</li>"
                        + "<li><a href=\"/login/sign-up\">Sign up with an email code</a></li>"
                        + "<li><a href=\"/login/address\">Sign in by typing your address</a> (jane@example.com; any other address gets the same page and no code)</li></ul>", null);
                return;
            }
            String name = path.startsWith("/login/") ? path.substring("/login/".length()) : "";
            FlowRunner flow = flows.get(name);
            if (flow == null) {
                send(x, 404, "not found", null);
                return;
            }
            String remote = x.getRemoteAddress().getAddress().getHostAddress();
            if (x.getRequestMethod().equals("GET")) {
                String id = name + "-" + HexFormat.of().formatHex(SecureRandom.getSeed(8));
                AuthSession tab = new AuthSession();
                tabs.put(id, tab);
                send(x, 200, render(name, flow.start(tab, remote)), "tab=" + id + "; Path=/login; HttpOnly; SameSite=Strict");
                return;
            }
            AuthSession tab = tabs.get(cookie(x));
            if (tab == null) {
                send(x, 400, "<p>This login has expired. <a href=\"/login/" + name + "\">Start again</a></p>", null);
                return;
            }
            FormParams form = parse(new String(x.getRequestBody().readNBytes(8192), StandardCharsets.UTF_8));
            String execution = form.getFirst("execution");
            send(x, 200, render(name, flow.submit(tab, execution, form, remote)), null);
        }
    }

    private static String cookie(HttpExchange x) {
        String header = x.getRequestHeaders().getFirst("Cookie");
        if (header == null) {
            return "";
        }
        for (String part : header.split(";")) {
            String p = part.trim();
            if (p.startsWith("tab=")) {
                return p.substring(4);
            }
        }
        return "";
    }

    private static FormParams parse(String body) {
        FormParams form = new FormParams();
        for (String pair : body.split("&")) {
            int eq = pair.indexOf('=');
            if (eq > 0) {
                form.add(URLDecoder.decode(pair.substring(0, eq), StandardCharsets.UTF_8),
                        URLDecoder.decode(pair.substring(eq + 1), StandardCharsets.UTF_8));
            }
        }
        return form;
    }

    private String message(String key, java.util.List<Object> params) {
        String text = messages.getProperty(key, key);
        return escape(MessageFormat.format(text.replace("'", "''"), params.toArray()));
    }

    /** The page as HTML: what Keycloak's theme would render from the template and attributes. */
    private String render(String flow, Page page) {
        StringBuilder b = new StringBuilder();
        if (page.isSuccess()) {
            return "<h1>Signed in</h1><p>The flow is complete. <a href=\"/\">Back</a></p>";
        }
        if (page.error() != null) {
            b.append("<p class=\"error\" role=\"alert\">").append(message(page.error(), page.errorParameters())).append("</p>");
        }
        if (page.info() != null) {
            b.append("<p class=\"info\">").append(message(page.info(), java.util.List.of())).append("</p>");
        }
        if (page.form() == null) {
            return b.append("<p><a href=\"/login/").append(flow).append("\">Start again</a></p>").toString();
        }
        String action = "<form method=\"post\" action=\"/login/" + flow + "\"><input type=\"hidden\" name=\"execution\" value=\""
                + escape(page.execution()) + "\">";
        switch (page.form()) {
            case LoginForms.USERNAME_FORM -> b.append(action)
                    .append("<label>Username or email <input name=\"username\" autocomplete=\"username\" required></label>")
                    .append("<button>Continue</button></form>");
            case LoginForms.PASSWORD_FORM -> b.append(action)
                    .append("<label>Username <input name=\"username\" autocomplete=\"username\" required></label>")
                    .append("<label>Password <input name=\"password\" type=\"password\" autocomplete=\"current-password\" required></label>")
                    .append("<button>Sign in</button></form>");
            case "passcode-address.ftl" -> b.append("<h1>")
                    .append(message("sign-up".equals(page.attributes().get("passcodePurpose")) ? "passcodeSignUpTitle" : "passcodeSignInTitle", java.util.List.of()))
                    .append("</h1>")
                    .append(action)
                    .append("<label>Email <input name=\"email\" type=\"email\" autocomplete=\"email\" required></label>")
                    .append("<button>").append(message("passcodeSendCode", java.util.List.of())).append("</button></form>");
            default -> {
                b.append("<h1>").append(message("passcodeTitle", java.util.List.of())).append("</h1>");
                if (!Boolean.TRUE.equals(page.attributes().get("passcodeLocked"))) {
                    b.append(action)
                            .append("<label>Code <input name=\"code\" inputmode=\"numeric\" autocomplete=\"one-time-code\" autofocus required></label>")
                            .append("<button>Continue</button></form>")
                            .append(action).append("<button name=\"resend\" value=\"true\">")
                            .append(message("passcodeResend", java.util.List.of())).append("</button></form>");
                }
            }
        }
        return b.toString();
    }

    private static String escape(String s) {
        return s == null ? "" : s.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace("\"", "&quot;");
    }

    private static void send(HttpExchange x, int status, String body, String cookie) throws IOException {
        byte[] bytes = ("<!doctype html><meta charset=\"utf-8\"><title>Passcode demo</title>" + body).getBytes(StandardCharsets.UTF_8);
        x.getResponseHeaders().set("Content-Type", "text/html; charset=utf-8");
        x.getResponseHeaders().set("Cache-Control", "no-store");
        if (cookie != null) {
            x.getResponseHeaders().set("Set-Cookie", cookie);
        }
        x.sendResponseHeaders(status, bytes.length);
        x.getResponseBody().write(bytes);
    }
}
