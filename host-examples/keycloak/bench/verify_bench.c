/* Verify through the C ABI from C: the baseline of host-examples/keycloak/bench.sh.
 * Each round issues BATCH challenges (a new subject each, untimed), then times verifying them
 * all with the right code; prints the time per verify of the best and the median measured round
 * (the best is the least disturbed by other work on a shared machine). The Java
 * side (passcode.keycloak.tests.VerifyBench) does exactly the same through JNA. */
#define _POSIX_C_SOURCE 199309L
#include <passcode.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

enum { BATCH = 2000, WARMUP = 3, ROUNDS = 15 };

static double now_ns(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (double)t.tv_sec * 1e9 + (double)t.tv_nsec;
}

static int by_value(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

int main(void) {
  const char *config = "[policy]\nmax_attempts = 10\n";
  const PasscodeEngine *engine = NULL;
  if (passcode_engine_new(config, strlen(config), NULL, &engine) != PASSCODE_STATUS_OK) return 1;
  static char tokens[BATCH][256], codes[BATCH][16];
  double per_verify[ROUNDS];
  unsigned long subject = 0;
  for (int round = 0; round < WARMUP + ROUNDS; round++) {
    for (int i = 0; i < BATCH; i++) {
      char to[64];
      snprintf(to, sizeof to, "user%lu@example.com", subject++);
      PasscodeIssued *issued = NULL;
      if (passcode_issue(engine, PASSCODE_CHANNEL_EMAIL, PASSCODE_PURPOSE_SIGN_IN, to, strlen(to), NULL, 0, NULL, 0,
                         &issued, NULL) != PASSCODE_STATUS_OK) return 1;
      PasscodeStr t = passcode_issued_token(issued), c = passcode_issued_code(issued);
      if (t.len >= sizeof tokens[i] || c.len >= sizeof codes[i]) return 1;
      memcpy(tokens[i], t.data, t.len + 1);
      memcpy(codes[i], c.data, c.len + 1);
      passcode_issued_free(issued);
    }
    double start = now_ns();
    for (int i = 0; i < BATCH; i++) {
      PasscodeVerified *verified = NULL;
      PasscodeFailure failure;
      if (passcode_verify(engine, tokens[i], strlen(tokens[i]), codes[i], strlen(codes[i]), &verified, &failure) !=
          PASSCODE_STATUS_OK) return 1;
      PasscodeStr id = passcode_verified_identifier(verified);
      if (id.len == 0) return 1;
      passcode_verified_free(verified);
    }
    if (round >= WARMUP) per_verify[round - WARMUP] = (now_ns() - start) / BATCH;
  }
  qsort(per_verify, ROUNDS, sizeof per_verify[0], by_value);
  printf("c-abi best %.0f median %.0f\n", per_verify[0], per_verify[ROUNDS / 2]);
  passcode_engine_free(engine);
  return 0;
}
