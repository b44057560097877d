package passcode.keycloak.tests;

import passcode.jna.PasscodeStatus;

/** Prints the binding's status table, NAME=number a line, for the test that compares it with passcode.h. */
public final class StatusTable {
    public static void main(String[] args) {
        for (PasscodeStatus s : PasscodeStatus.values()) {
            if (s != PasscodeStatus.OTHER) {
                System.out.println(s.name() + "=" + s.number());
            }
        }
    }
}
