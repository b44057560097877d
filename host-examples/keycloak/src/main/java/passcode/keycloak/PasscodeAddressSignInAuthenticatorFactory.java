package passcode.keycloak;

/** The factory of the authenticator with id "passcode-email-sign-in". */
public final class PasscodeAddressSignInAuthenticatorFactory extends PasscodeAuthenticatorFactory {
    public static final String ID = "passcode-email-sign-in";

    /** For Keycloak (META-INF/services). */
    public PasscodeAddressSignInAuthenticatorFactory() {
        super(PasscodeAuthenticator.Mode.ADDRESS_SIGN_IN);
    }

    /** For the runner and tests. */
    public PasscodeAddressSignInAuthenticatorFactory(Engines engines) {
        super(PasscodeAuthenticator.Mode.ADDRESS_SIGN_IN, engines);
    }

    @Override
    public String getId() {
        return ID;
    }

    @Override
    public String getDisplayType() {
        return "Passcode: sign-in by email code (address typed)";
    }

    @Override
    public String getHelpText() {
        return "Asks for an email address and signs in the account that has it once its code is right; an address"
                + " without an account gets the same answer and no message, so the form never tells who has an account.";
    }
}
