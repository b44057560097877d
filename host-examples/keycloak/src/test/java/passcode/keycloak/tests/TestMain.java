package passcode.keycloak.tests;

import static org.junit.platform.engine.discovery.DiscoverySelectors.selectPackage;

import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.platform.engine.TestExecutionResult;
import org.junit.platform.launcher.Launcher;
import org.junit.platform.launcher.LauncherDiscoveryRequest;
import org.junit.platform.launcher.TestExecutionListener;
import org.junit.platform.launcher.TestIdentifier;
import org.junit.platform.launcher.core.LauncherDiscoveryRequestBuilder;
import org.junit.platform.launcher.core.LauncherFactory;

/**
 * Runs every JUnit 5 test of this package (JUnit's launcher from Debian's junit5), prints one line
 * per test and the closing line "N passed, N failed". A skipped or aborted test counts as failed:
 * none may pass by not running. Exits 1 if any failed or none ran.
 */
public final class TestMain {
    public static void main(String[] args) {
        AtomicInteger passed = new AtomicInteger();
        AtomicInteger failed = new AtomicInteger();
        Map<String, Long> started = new ConcurrentHashMap<>();
        TestExecutionListener listener = new TestExecutionListener() {
            @Override
            public void executionStarted(TestIdentifier test) {
                started.put(test.getUniqueId(), System.nanoTime());
            }

            private String took(TestIdentifier test) {
                Long t0 = started.get(test.getUniqueId());
                return t0 == null ? "" : " (" + (System.nanoTime() - t0) / 1_000_000 + " ms)";
            }

            @Override
            public void executionSkipped(TestIdentifier test, String reason) {
                if (test.isTest()) {
                    failed.incrementAndGet();
                    System.out.println("SKIPPED (counted as failed) " + test.getDisplayName() + ": " + reason);
                }
            }

            @Override
            public void executionFinished(TestIdentifier test, TestExecutionResult result) {
                if (!test.isTest() && result.getStatus() == TestExecutionResult.Status.SUCCESSFUL) {
                    return;
                }
                if (result.getStatus() == TestExecutionResult.Status.SUCCESSFUL) {
                    passed.incrementAndGet();
                    System.out.println("ok     " + test.getLegacyReportingName() + took(test));
                } else {
                    failed.incrementAndGet();
                    System.out.println("FAILED " + test.getLegacyReportingName() + ": "
                            + result.getThrowable().map(Throwable::toString).orElse(result.getStatus().toString()));
                    result.getThrowable().ifPresent(t -> t.printStackTrace(System.out));
                }
            }
        };
        LauncherDiscoveryRequest request = LauncherDiscoveryRequestBuilder.request()
                .selectors(selectPackage(TestMain.class.getPackageName()))
                .build();
        Launcher launcher = LauncherFactory.create();
        launcher.execute(request, listener);
        System.out.println(passed.get() + " passed, " + failed.get() + " failed");
        System.exit(failed.get() == 0 && passed.get() > 0 ? 0 : 1);
    }
}
