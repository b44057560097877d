package passcode.keycloak.tests;

import java.util.Arrays;
import passcode.jna.Channel;
import passcode.jna.HostParts;
import passcode.jna.Issued;
import passcode.jna.PasscodeEngine;
import passcode.jna.Purpose;
import passcode.keycloak.RealmStore;

/**
 * Verify through JNA: the Java side of host-examples/keycloak/bench.sh, the same work as
 * bench/verify_bench.c (rounds of BATCH fresh challenges issued untimed, then verified timed;
 * the time per verify of the best and the median round). More warm-up rounds than C, for the JIT. With the argument
 * "realm-store" the engine runs on the realm-style store behind the JNA store callbacks.
 */
public final class VerifyBench {
    private static final int BATCH = 2000;
    private static final int WARMUP = 10;
    private static final int ROUNDS = 15;

    public static void main(String[] args) throws Exception {
        boolean realmStore = args.length > 0 && args[0].equals("realm-store");
        // A host store needs a key ring; a throwaway key is right for a benchmark.
        String config = "[policy]\nmax_attempts = 10\n[keys]\nephemeral = true\n";
        HostParts parts = realmStore ? new HostParts().store(new RealmStore()) : null;
        double[] perVerify = new double[ROUNDS];
        long subject = 0;
        try (PasscodeEngine engine = PasscodeEngine.open(config, parts)) {
            String[] tokens = new String[BATCH];
            String[] codes = new String[BATCH];
            for (int round = 0; round < WARMUP + ROUNDS; round++) {
                for (int i = 0; i < BATCH; i++) {
                    Issued issued = engine.issue(Channel.EMAIL, Purpose.SIGN_IN, "user" + subject++ + "@example.com", null, null);
                    tokens[i] = issued.token();
                    codes[i] = issued.code();
                }
                long start = System.nanoTime();
                for (int i = 0; i < BATCH; i++) {
                    if (engine.verify(tokens[i], codes[i]).identifier().isEmpty()) {
                        throw new AssertionError("no identifier");
                    }
                }
                if (round >= WARMUP) {
                    perVerify[round - WARMUP] = (System.nanoTime() - start) / (double) BATCH;
                }
            }
        }
        Arrays.sort(perVerify);
        System.out.printf("jna%s best %.0f median %.0f%n", realmStore ? "+realm-store" : "", perVerify[0], perVerify[ROUNDS / 2]);
    }
}
