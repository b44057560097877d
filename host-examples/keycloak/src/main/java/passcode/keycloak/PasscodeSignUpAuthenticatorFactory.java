package passcode.keycloak;

/** The factory of the authenticator with id "passcode-sign-up". */
public final class PasscodeSignUpAuthenticatorFactory extends PasscodeAuthenticatorFactory {
    public static final String ID = "passcode-sign-up";

    /** For Keycloak (META-INF/services). */
    public PasscodeSignUpAuthenticatorFactory() {
        super(PasscodeAuthenticator.Mode.SIGN_UP);
    }

    /** For the runner and tests. */
    public PasscodeSignUpAuthenticatorFactory(Engines engines) {
        super(PasscodeAuthenticator.Mode.SIGN_UP, engines);
    }

    @Override
    public String getId() {
        return ID;
    }

    @Override
    public String getDisplayType() {
        return "Passcode: sign-up by email code";
    }

    @Override
    public String getHelpText() {
        return "Asks for an email address, sends it a code, and creates the account with the address verified once the code is right.";
    }
}
