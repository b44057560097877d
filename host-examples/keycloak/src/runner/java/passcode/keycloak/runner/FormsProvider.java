package passcode.keycloak.runner;

import jakarta.ws.rs.core.Response;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.keycloak.forms.login.LoginFormsProvider;

/** Keycloak's LoginFormsProvider as the runner plays it: collects a form's attributes and messages. */
final class FormsProvider implements LoginFormsProvider {
    private final String execution;
    private final Map<String, Object> attributes = new HashMap<>();
    private String error;
    private List<Object> errorParameters = List.of();
    private String info;

    FormsProvider(String execution) {
        this.execution = execution;
    }

    @Override
    public Response createForm(String form) {
        return new Page(Page.Kind.FORM, 200, form, execution, Map.copyOf(attributes), error, errorParameters, info, null)
                .response();
    }

    @Override
    public LoginFormsProvider setError(String message, Object... parameters) {
        this.error = message;
        this.errorParameters = Arrays.asList(parameters);
        return this;
    }

    @Override
    public LoginFormsProvider setInfo(String message, Object... parameters) {
        this.info = message;
        return this;
    }

    @Override
    public LoginFormsProvider setAttribute(String name, Object value) {
        attributes.put(name, value);
        return this;
    }

    @Override
    public void close() {}
}
