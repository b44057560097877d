package passcode.keycloak;

/** The factory of the authenticator with id "passcode-sms". */
public final class PasscodeSmsAuthenticatorFactory extends PasscodeAuthenticatorFactory {
    public static final String ID = "passcode-sms";

    /** For Keycloak (META-INF/services). */
    public PasscodeSmsAuthenticatorFactory() {
        super(PasscodeAuthenticator.Mode.SMS);
    }

    /** For the runner and tests. */
    public PasscodeSmsAuthenticatorFactory(Engines engines) {
        super(PasscodeAuthenticator.Mode.SMS, engines);
    }

    @Override
    public String getId() {
        return ID;
    }

    @Override
    public String getDisplayType() {
        return "Passcode: SMS code";
    }

    @Override
    public String getHelpText() {
        return "Sends a one-time code by SMS to the user's phone number attribute and checks it (a second factor, or sign-in).";
    }
}
