package passcode.keycloak.runner;

import jakarta.ws.rs.core.MultivaluedMap;
import java.util.List;
import java.util.Map;
import java.util.function.Function;
import org.keycloak.authentication.AuthenticationFlowError;
import org.keycloak.authentication.Authenticator;
import org.keycloak.common.ClientConnection;
import org.keycloak.events.Errors;
import org.keycloak.events.EventBuilder;
import org.keycloak.events.EventListenerProvider;
import org.keycloak.events.EventType;
import org.keycloak.http.HttpRequest;
import org.keycloak.models.AuthenticatorConfigModel;
import org.keycloak.models.KeycloakSession;
import org.keycloak.models.UserModel;

/**
 * Plays Keycloak's flow engine (AuthenticationProcessor and DefaultAuthenticationFlow) for one
 * flow of REQUIRED executions: start() runs the executions in order, calling authenticate() of
 * the first not yet passed, and answers with its challenge; submit() calls action() of the
 * execution the form belongs to (any other is "page expired"), then goes on with the rest. As in
 * Keycloak: a new Authenticator per call from its factory; a failure challenge or failure is a
 * failed login for the realm's brute-force detector (when a user is known); a failure without a
 * page sends an error event; the end of the flow needs a user, sends the success event and clears
 * the tab's notes.
 */
public final class FlowRunner {
    /** The auth note Keycloak keeps the current execution in. */
    public static final String CURRENT_EXECUTION = "current.authentication.execution";

    /** One execution of the flow: its id, how to make its authenticator, and its config. */
    public record Execution(String id, Function<KeycloakSession, Authenticator> authenticator, AuthenticatorConfigModel config) {
        /** An execution with a config map (null for none). */
        public static Execution of(String id, Function<KeycloakSession, Authenticator> authenticator, Map<String, String> config) {
            AuthenticatorConfigModel model = null;
            if (config != null) {
                model = new AuthenticatorConfigModel();
                model.setId(id + "-config");
                model.setAlias(id);
                model.setConfig(config);
            }
            return new Execution(id, authenticator, model);
        }
    }

    private final RunnerRealm realm;
    private final RunnerSession session;
    private final BruteForce protector;
    private final List<EventListenerProvider> listeners;
    private final EventType eventType;
    private final List<Execution> executions;

    public FlowRunner(
            RunnerRealm realm,
            RunnerSession session,
            BruteForce protector,
            List<EventListenerProvider> listeners,
            EventType eventType,
            List<Execution> executions) {
        this.realm = realm;
        this.session = session;
        this.protector = protector;
        this.listeners = listeners;
        this.eventType = eventType;
        this.executions = executions;
    }

    RunnerRealm realm() {
        return realm;
    }

    RunnerSession session() {
        return session;
    }

    BruteForce protector() {
        return protector;
    }

    /** The execution a form posts to, or null (for tests that post by hand). */
    public String execution(int index) {
        return executions.get(index).id();
    }

    /** A browser opening the login page in a tab. */
    public Page start(AuthSession tab, String remoteAddr) {
        Call call = new Call(tab, FormParams.of(), remoteAddr);
        return processFlow(call);
    }

    /** A browser posting a form to an execution (Keycloak's login-actions/authenticate?execution=...). */
    public Page submit(AuthSession tab, String execution, FormParams form, String remoteAddr) {
        Call call = new Call(tab, form, remoteAddr);
        String current = tab.getAuthNote(CURRENT_EXECUTION);
        if (execution == null || !execution.equals(current)) {
            return error("pageExpiredMessage", 400);
        }
        Execution ex = executions.stream().filter(e -> e.id().equals(execution)).findFirst().orElseThrow();
        Authenticator authenticator = ex.authenticator().apply(session);
        FlowContext context = call.context(ex);
        authenticator.action(context);
        authenticator.close();
        Page page = outcome(call, ex, context);
        return page != null ? page : processFlow(call);
    }

    private Page processFlow(Call call) {
        AuthSession tab = call.tab;
        for (Execution ex : executions) {
            if (tab.succeeded.containsKey(ex.id())) {
                continue;
            }
            Authenticator authenticator = ex.authenticator().apply(session);
            UserModel user = tab.getAuthenticatedUser();
            if (authenticator.requiresUser() && user == null) {
                return fail(call, AuthenticationFlowError.UNKNOWN_USER);
            }
            if (authenticator.requiresUser() && !authenticator.configuredFor(session, realm, user)) {
                return fail(call, AuthenticationFlowError.CREDENTIAL_SETUP_REQUIRED);
            }
            FlowContext context = call.context(ex);
            authenticator.authenticate(context);
            authenticator.close();
            Page page = outcome(call, ex, context);
            if (page != null) {
                return page;
            }
        }
        UserModel user = tab.getAuthenticatedUser();
        if (user == null) {
            return fail(call, AuthenticationFlowError.UNKNOWN_USER);
        }
        call.event.user(user).success();
        if (realm.isBruteForceProtected()) {
            protector.successfulLogin(realm, user, call.connection);
        }
        tab.clearAuthNotes();
        return new Page(Page.Kind.SUCCESS, 302, null, null, Map.of(), null, List.of(), null, user.getId());
    }

    /** The page for an authenticator's outcome, or null when it succeeded and the flow goes on. */
    private Page outcome(Call call, Execution ex, FlowContext context) {
        AuthSession tab = call.tab;
        FlowContext.Status status = context.status;
        if (status == null || status == FlowContext.Status.ATTEMPTED) {
            return fail(call, AuthenticationFlowError.INTERNAL_ERROR);
        }
        switch (status) {
            case SUCCESS -> {
                tab.succeeded.put(ex.id(), true);
                tab.removeAuthNote(CURRENT_EXECUTION);
                return null;
            }
            case CHALLENGE, FORCE_CHALLENGE -> {
                tab.setAuthNote(CURRENT_EXECUTION, ex.id());
                return (Page) context.challenge.getEntity();
            }
            case FAILURE_CHALLENGE -> {
                logFailure(call);
                tab.setAuthNote(CURRENT_EXECUTION, ex.id());
                return (Page) context.challenge.getEntity();
            }
            default -> {
                logFailure(call);
                if (context.challenge != null) {
                    tab.setAuthNote(CURRENT_EXECUTION, ex.id());
                    Page page = (Page) context.challenge.getEntity();
                    return new Page(Page.Kind.ERROR, 400, page.form(), page.execution(), page.attributes(), page.error(),
                            page.errorParameters(), page.info(), null);
                }
                return fail(call, context.error);
            }
        }
    }

    /** A failure without a page: an error event, an error page, and the tab starts over. */
    private Page fail(Call call, AuthenticationFlowError error) {
        String eventError = switch (error) {
            case UNKNOWN_USER, INVALID_USER -> Errors.USER_NOT_FOUND;
            case USER_TEMPORARILY_DISABLED -> Errors.USER_TEMPORARILY_DISABLED;
            case EXPIRED_CODE -> Errors.EXPIRED_CODE;
            default -> Errors.INVALID_USER_CREDENTIALS;
        };
        call.event.user(call.tab.getAuthenticatedUser()).error(eventError);
        call.tab.clearAuthNotes();
        call.tab.succeeded.clear();
        call.tab.setAuthenticatedUser(null);
        return error(error.name(), 400);
    }

    private static Page error(String message, int status) {
        return new Page(Page.Kind.ERROR, status, null, null, Map.of(), message, List.of(), null, null);
    }

    /** Keycloak's logFailure: a failed login for the user the flow knows, if the realm detects brute force. */
    private void logFailure(Call call) {
        UserModel user = call.tab.getAuthenticatedUser();
        if (realm.isBruteForceProtected() && user != null) {
            protector.failedLogin(realm, user, call.connection);
        }
    }

    /** One request: its tab, form, connection and event. */
    private final class Call {
        final AuthSession tab;
        final HttpRequest request;
        final ClientConnection connection;
        final EventBuilder event;

        Call(AuthSession tab, FormParams form, String remoteAddr) {
            this.tab = tab;
            this.request = new HttpRequest() {
                @Override
                public String getHttpMethod() {
                    return form.isEmpty() ? "GET" : "POST";
                }

                @Override
                public MultivaluedMap<String, String> getDecodedFormParameters() {
                    return form;
                }
            };
            this.connection = new ClientConnection() {
                @Override
                public String getRemoteAddr() {
                    return remoteAddr;
                }

                @Override
                public String getRemoteHost() {
                    return remoteAddr;
                }
            };
            this.event = new EventBuilder(realm, listeners, connection).event(eventType);
        }

        FlowContext context(Execution ex) {
            return new FlowContext(FlowRunner.this, ex, tab, request, connection, event);
        }
    }
}
