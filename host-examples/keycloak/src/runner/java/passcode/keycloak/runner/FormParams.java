package passcode.keycloak.runner;

import jakarta.ws.rs.core.MultivaluedMap;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;

/** Decoded form parameters, as Keycloak hands them to action(). */
public final class FormParams extends HashMap<String, List<String>> implements MultivaluedMap<String, String> {
    private static final long serialVersionUID = 1L;

    /** Parameters from name, value pairs: of("code", "123456"). */
    public static FormParams of(String... pairs) {
        FormParams p = new FormParams();
        for (int i = 0; i + 1 < pairs.length; i += 2) {
            p.add(pairs[i], pairs[i + 1]);
        }
        return p;
    }

    @Override
    public String getFirst(String key) {
        List<String> v = get(key);
        return v == null || v.isEmpty() ? null : v.get(0);
    }

    @Override
    public void putSingle(String key, String value) {
        List<String> v = new ArrayList<>();
        v.add(value);
        put(key, v);
    }

    @Override
    public void add(String key, String value) {
        computeIfAbsent(key, k -> new ArrayList<>()).add(value);
    }
}
