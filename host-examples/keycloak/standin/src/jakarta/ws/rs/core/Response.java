package jakarta.ws.rs.core;

/** Stand-in for Jakarta REST's response: what an authenticator hands the flow engine as a page. */
public abstract class Response implements AutoCloseable {
    /** The HTTP status. */
    public abstract int getStatus();

    /** The body. */
    public abstract Object getEntity();

    @Override
    public void close() {}
}
