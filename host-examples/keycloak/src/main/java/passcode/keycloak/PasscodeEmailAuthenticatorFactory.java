package passcode.keycloak;

/** The factory of the authenticator with id "passcode-email". */
public final class PasscodeEmailAuthenticatorFactory extends PasscodeAuthenticatorFactory {
    public static final String ID = "passcode-email";

    /** For Keycloak (META-INF/services). */
    public PasscodeEmailAuthenticatorFactory() {
        super(PasscodeAuthenticator.Mode.EMAIL);
    }

    /** For the runner and tests. */
    public PasscodeEmailAuthenticatorFactory(Engines engines) {
        super(PasscodeAuthenticator.Mode.EMAIL, engines);
    }

    @Override
    public String getId() {
        return ID;
    }

    @Override
    public String getDisplayType() {
        return "Passcode: email code";
    }

    @Override
    public String getHelpText() {
        return "Sends a one-time code to the user's email address and checks it (passwordless sign-in, or a second factor).";
    }
}
