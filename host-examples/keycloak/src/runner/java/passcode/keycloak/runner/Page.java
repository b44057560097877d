package passcode.keycloak.runner;

import jakarta.ws.rs.core.Response;
import java.util.List;
import java.util.Map;

/**
 * What the runner answers a browser with: a form (a template name and its attributes, with an
 * error or info message key and parameters), the end of a successful flow, or an error page.
 *
 * @param execution the execution a form posts to (Keycloak's execution query parameter)
 */
public record Page(
        Kind kind,
        int status,
        String form,
        String execution,
        Map<String, Object> attributes,
        String error,
        List<Object> errorParameters,
        String info,
        String user) {
    /** What kind of page. */
    public enum Kind {
        FORM,
        SUCCESS,
        ERROR
    }

    /** As a Jakarta REST response, which is what authenticators hand to challenge(). */
    public Response response() {
        Page page = this;
        return new Response() {
            @Override
            public int getStatus() {
                return page.status;
            }

            @Override
            public Object getEntity() {
                return page;
            }
        };
    }

    public boolean isForm(String name) {
        return kind == Kind.FORM && name.equals(form);
    }

    public boolean isSuccess() {
        return kind == Kind.SUCCESS;
    }

    @Override
    public String toString() {
        return kind + " " + (form == null ? "" : form) + (error == null ? "" : " error=" + error + errorParameters)
                + (info == null ? "" : " info=" + info);
    }
}
