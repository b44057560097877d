/*
 * Sign-up by email through libpasscode, with the host's own clock, store and event sink.
 *
 * Build against the installed library:
 *   cc -std=c11 -Wall -Wextra -Wpedantic -Werror passcode_example.c \
 *      $(pkg-config --cflags --libs passcode) -pthread -o passcode_example
 *
 * It prints each expectation it checks and exits 0 only if every one held. It never prints a
 * code: only whether the right one was accepted.
 *
 * Delivery: with PASSCODE_EXAMPLE_SMTP_PORT set, codes go to an SMTP server on 127.0.0.1 at
 * that port (the tests start one); without it, to a DEVELOPMENT outbox folder under /tmp.
 */
#define _POSIX_C_SOURCE 200809L
#include <passcode.h>

#include <dirent.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static int failures = 0;

#define CHECK(cond, what)                                                   \
  do {                                                                      \
    if (cond) {                                                             \
      printf("ok   %s\n", what);                                            \
    } else {                                                                \
      printf("FAIL %s (%s:%d)\n", what, __FILE__, __LINE__);                \
      failures++;                                                           \
    }                                                                       \
  } while (0)

/* ---- the host clock: Unix seconds the program moves by hand ---- */

static uint64_t clock_now(void *ctx) {
  return atomic_load((_Atomic uint64_t *)ctx);
}

/* ---- the host store: a hash table of versioned entries behind one mutex ---- */

#define BUCKETS 64

struct entry {
  uint8_t key[PASSCODE_STORE_KEY_BYTES];
  uint8_t *value;
  size_t len;
  uint64_t version;
  uint64_t expires_at; /* 0: never */
  struct entry *next;
};

struct table {
  pthread_mutex_t lock;
  struct entry *buckets[BUCKETS];
  uint64_t next_version;
  unsigned long gets, puts, conflicts;
};

static struct entry **slot(struct table *t, const uint8_t *key) {
  /* Keys are keyed hashes: any byte is already uniform. */
  struct entry **e = &t->buckets[key[0] % BUCKETS];
  while (*e && memcmp((*e)->key, key, PASSCODE_STORE_KEY_BYTES) != 0) e = &(*e)->next;
  return e;
}

static int live(const struct entry *e, uint64_t now) {
  return e && (e->expires_at == 0 || now < e->expires_at);
}

static uint32_t store_get(void *ctx, const uint8_t *key, uint64_t now, PasscodeStoreFound *found) {
  struct table *t = ctx;
  uint32_t outcome = PASSCODE_STORE_OUTCOME_OK;
  pthread_mutex_lock(&t->lock);
  t->gets++;
  struct entry *e = *slot(t, key);
  if (live(e, now) && passcode_store_found_set(found, e->value, e->len, e->version) != PASSCODE_STATUS_OK)
    outcome = PASSCODE_STORE_OUTCOME_FAILED;
  pthread_mutex_unlock(&t->lock);
  return outcome;
}

static uint32_t store_put(void *ctx, const uint8_t *key, const uint8_t *value, size_t len, uint64_t ttl,
                          uint64_t expected, uint64_t now, uint64_t *new_version) {
  struct table *t = ctx;
  pthread_mutex_lock(&t->lock);
  t->puts++;
  struct entry **s = slot(t, key);
  struct entry *e = *s;
  uint64_t current = live(e, now) ? e->version : 0;
  if (current != expected) {
    t->conflicts++;
    pthread_mutex_unlock(&t->lock);
    return PASSCODE_STORE_OUTCOME_CONFLICT;
  }
  uint8_t *copy = malloc(len ? len : 1);
  if (!copy) {
    pthread_mutex_unlock(&t->lock);
    return PASSCODE_STORE_OUTCOME_FAILED;
  }
  memcpy(copy, value, len);
  if (!e) {
    e = calloc(1, sizeof *e);
    if (!e) {
      free(copy);
      pthread_mutex_unlock(&t->lock);
      return PASSCODE_STORE_OUTCOME_FAILED;
    }
    memcpy(e->key, key, PASSCODE_STORE_KEY_BYTES);
    *s = e;
  }
  free(e->value);
  e->value = copy;
  e->len = len;
  e->version = t->next_version++; /* never 0, never reused */
  e->expires_at = ttl ? now + ttl : 0;
  *new_version = e->version;
  pthread_mutex_unlock(&t->lock);
  return PASSCODE_STORE_OUTCOME_OK;
}

static uint32_t store_remove(void *ctx, const uint8_t *key, uint64_t version, uint64_t now) {
  struct table *t = ctx;
  uint32_t outcome = PASSCODE_STORE_OUTCOME_CONFLICT;
  pthread_mutex_lock(&t->lock);
  struct entry **s = slot(t, key);
  struct entry *e = *s;
  if (live(e, now) && e->version == version) {
    *s = e->next;
    free(e->value);
    free(e);
    outcome = PASSCODE_STORE_OUTCOME_OK;
  }
  pthread_mutex_unlock(&t->lock);
  return outcome;
}

static void table_free(struct table *t) {
  for (size_t i = 0; i < BUCKETS; i++) {
    struct entry *e = t->buckets[i];
    while (e) {
      struct entry *next = e->next;
      free(e->value);
      free(e);
      e = next;
    }
  }
  pthread_mutex_destroy(&t->lock);
}

/* ---- the host event sink: counts by kind; checks no identifier leaks into events ---- */

struct events {
  _Atomic unsigned long by_kind[16];
  _Atomic unsigned long leaks;
};

static void on_event(void *ctx, const PasscodeEvent *e) {
  struct events *ev = ctx;
  if (e->kind < 16) atomic_fetch_add(&ev->by_kind[e->kind], 1);
  int pseudonym = e->subject_len == 16;
  for (size_t i = 0; i < e->subject_len; i++)
    pseudonym = pseudonym && strchr("0123456789abcdef", e->subject[i]) != NULL;
  if (!pseudonym) atomic_fetch_add(&ev->leaks, 1);
}

/* ---- the delivery event sink: called from delivery's worker threads ---- */

struct deliveries {
  pthread_mutex_t lock;
  pthread_cond_t changed;
  int sent, failed, queued;
  char seen[4096]; /* every event's text, to check none holds the code or the address */
  size_t seen_len;
};

static void on_delivery(void *ctx, const PasscodeDeliveryEvent *e) {
  struct deliveries *d = ctx;
  pthread_mutex_lock(&d->lock);
  d->sent += e->kind == PASSCODE_DELIVERY_EVENT_KIND_SENT;
  d->failed += e->kind == PASSCODE_DELIVERY_EVENT_KIND_FAILED;
  d->queued += e->kind == PASSCODE_DELIVERY_EVENT_KIND_QUEUED;
  int n = snprintf(d->seen + d->seen_len, sizeof d->seen - d->seen_len, "%.*s %.*s %.*s %.*s %.*s|",
                   (int)e->message_id_len, e->message_id, (int)e->subject_len, e->subject, (int)e->sender_len,
                   e->sender, (int)e->provider_id_len, e->provider_id, (int)e->reason_len, e->reason);
  if (n > 0 && (size_t)n < sizeof d->seen - d->seen_len) d->seen_len += (size_t)n;
  pthread_cond_broadcast(&d->changed);
  pthread_mutex_unlock(&d->lock);
}

/* Waits up to 20 s for `sent + failed` to reach `n`. */
static void wait_for_outcomes(struct deliveries *d, int n) {
  struct timespec until;
  clock_gettime(CLOCK_REALTIME, &until);
  until.tv_sec += 20;
  pthread_mutex_lock(&d->lock);
  while (d->sent + d->failed < n)
    if (pthread_cond_timedwait(&d->changed, &d->lock, &until) != 0) break;
  pthread_mutex_unlock(&d->lock);
}

/* Removes the outbox folder and the files in it. */
static void remove_folder(const char *path) {
  DIR *dir = opendir(path);
  if (dir == NULL) return;
  struct dirent *entry;
  char file[512];
  while ((entry = readdir(dir)) != NULL) {
    if (entry->d_name[0] == '.') continue;
    snprintf(file, sizeof file, "%s/%s", path, entry->d_name);
    unlink(file);
  }
  closedir(dir);
  rmdir(path);
}

/* ---- helpers ---- */

#define TEXT(s) (s), strlen(s)

static const char *status_text(PasscodeStatus s, char *buf, size_t len) {
  size_t n = 0;
  if (passcode_status_text(s, buf, len, &n) != PASSCODE_STATUS_OK) snprintf(buf, len, "status %u", (unsigned)s);
  return buf;
}

struct racer {
  const PasscodeEngine *engine;
  const char *token;
  const char *code;
  PasscodeStatus status;
};

static void *race(void *arg) {
  struct racer *r = arg;
  PasscodeVerified *v = NULL;
  r->status = passcode_verify(r->engine, TEXT(r->token), TEXT(r->code), &v, NULL);
  passcode_verified_free(v);
  return NULL;
}

int main(void) {
  char buf[PASSCODE_STATUS_TEXT_MAX + 1];
  PasscodeStr version = passcode_version();
  printf("libpasscode %.*s, ABI %u\n", (int)version.len, version.data, passcode_abi_version());
  CHECK(passcode_abi_version() == PASSCODE_ABI_VERSION, "the loaded library has the header's ABI version");

  _Atomic uint64_t now = 1800000000u;
  struct table table = {.next_version = 1};
  struct events events;
  memset(&events, 0, sizeof events);
  if (pthread_mutex_init(&table.lock, NULL) != 0) return 2;
  PasscodeClock clock = {.ctx = (void *)&now, .now = clock_now};
  PasscodeStore store = {.ctx = &table, .get = store_get, .put = store_put, .remove = store_remove};
  PasscodeEventSink sink = {.ctx = &events, .emit = on_event};
  PasscodeHostParts parts = {.store = &store, .clock = &clock, .events = &sink};

  /* This program is alone on its store, so a key for this process is enough; a real host
   * names its key files or variables in the [keys] ring. */
  const char *config =
      "[keys]\n"
      "ephemeral = true\n"
      "[policy]\n"
      "max_attempts = 5\n"
      "[messages]\n"
      "app_name = \"Example\"\n";
  const PasscodeEngine *engine = NULL;
  PasscodeStatus s = passcode_engine_new(TEXT(config), &parts, &engine);
  CHECK(s == PASSCODE_STATUS_OK, "the engine opens with the host's clock, store and event sink");
  if (s != PASSCODE_STATUS_OK) {
    printf("     %s\n", status_text(s, buf, sizeof buf));
    return 1;
  }

  const PasscodeEngine *refused = NULL;
  s = passcode_engine_new(TEXT("colour = \"blue\""), NULL, &refused);
  CHECK(s == PASSCODE_STATUS_UNKNOWN_CONFIG_FIELD && refused == NULL, "a config with an unknown field is refused");
  /* A host store may be shared by other engines: without a key ring each would count apart. */
  s = passcode_engine_new(TEXT("[messages]\napp_name = \"Example\"\n"), &parts, &refused);
  CHECK(s == PASSCODE_STATUS_POLICY_OUT_OF_BOUNDS && refused == NULL, "a host store without a key ring is refused");

  /* Issue a sign-up code by email. */
  PasscodeIssued *issued = NULL;
  PasscodeFailure failure;
  s = passcode_issue(engine, PASSCODE_CHANNEL_EMAIL, PASSCODE_PURPOSE_SIGN_UP, TEXT("Jane.Doe@Example.COM"),
                     TEXT("203.0.113.7"), NULL, 0, &issued, &failure);
  CHECK(s == PASSCODE_STATUS_OK, "a sign-up code is issued by email");
  if (s != PASSCODE_STATUS_OK) return 1;
  PasscodeStr token = passcode_issued_token(issued);
  PasscodeStr code = passcode_issued_code(issued);
  PasscodeStr recipient = passcode_issued_recipient(issued);
  PasscodeStr subject = passcode_issued_email_subject(issued);
  PasscodeStr text = passcode_issued_email_text(issued);
  CHECK(strcmp(recipient.data, "Jane.Doe@example.com") == 0, "the recipient is normalised (domain lower-cased)");
  CHECK(code.len == 6, "the code has 6 digits");
  CHECK(subject.len > 0 && strstr(subject.data, code.data) == NULL, "the email subject does not carry the code");
  CHECK(strstr(text.data, code.data) != NULL, "the email text carries the code");
  CHECK(passcode_issued_sms_text(issued).len == 0, "an email has no SMS text");
  CHECK(passcode_issued_expires_at(issued) == now + 600, "the code expires in 10 minutes");
  CHECK(passcode_issued_channel(issued) == PASSCODE_CHANNEL_EMAIL, "the channel is email");

  /* A wrong code. */
  char wrong[16];
  snprintf(wrong, sizeof wrong, "%06d", (atoi(code.data) + 1) % 1000000);
  PasscodeVerified *verified = NULL;
  s = passcode_verify(engine, token.data, token.len, TEXT(wrong), &verified, &failure);
  CHECK(s == PASSCODE_STATUS_WRONG_CODE && verified == NULL, "a wrong code is refused");
  CHECK(failure.has_attempts_left && failure.attempts_left == 4, "with 4 attempts left");
  printf("     (%s)\n", status_text(s, buf, sizeof buf));

  /* The right code, typed with a space. */
  char typed[16];
  snprintf(typed, sizeof typed, "%.3s %.3s", code.data, code.data + 3);
  s = passcode_verify(engine, token.data, token.len, TEXT(typed), &verified, &failure);
  CHECK(s == PASSCODE_STATUS_OK, "the right code is accepted");
  if (s == PASSCODE_STATUS_OK) {
    CHECK(strcmp(passcode_verified_identifier(verified).data, "Jane.Doe@example.com") == 0,
          "it names the address it was sent to");
    CHECK(passcode_verified_purpose(verified) == PASSCODE_PURPOSE_SIGN_UP, "and the purpose");
  }
  passcode_verified_free(verified);
  verified = NULL;

  /* The same code again. */
  s = passcode_verify(engine, token.data, token.len, code.data, code.len, &verified, &failure);
  CHECK(s == PASSCODE_STATUS_NOT_FOUND && verified == NULL, "the same code is refused the second time");
  passcode_issued_free(issued);

  /* Expiry through the host clock. */
  s = passcode_issue(engine, PASSCODE_CHANNEL_EMAIL, PASSCODE_PURPOSE_SIGN_UP, TEXT("jane.doe@example.com"), NULL, 0,
                     NULL, 0, &issued, &failure);
  CHECK(s == PASSCODE_STATUS_OK, "a second code is issued");
  if (s != PASSCODE_STATUS_OK) return 1;
  atomic_fetch_add(&now, 601);
  token = passcode_issued_token(issued);
  code = passcode_issued_code(issued);
  s = passcode_verify(engine, token.data, token.len, code.data, code.len, &verified, &failure);
  CHECK(s == PASSCODE_STATUS_EXPIRED, "after 601 seconds on the host clock the code has expired");
  passcode_issued_free(issued);

  /* 8 threads verify one challenge with the right code: exactly one succeeds. */
  s = passcode_issue(engine, PASSCODE_CHANNEL_EMAIL, PASSCODE_PURPOSE_SIGN_UP, TEXT("jane.doe@example.com"), NULL, 0,
                     NULL, 0, &issued, &failure);
  CHECK(s == PASSCODE_STATUS_OK, "a third code is issued");
  if (s != PASSCODE_STATUS_OK) return 1;
  pthread_t threads[8];
  struct racer racers[8];
  for (int i = 0; i < 8; i++) {
    racers[i] = (struct racer){engine, passcode_issued_token(issued).data, passcode_issued_code(issued).data,
                               PASSCODE_STATUS_PANIC};
    if (pthread_create(&threads[i], NULL, race, &racers[i]) != 0) return 2;
  }
  int ok = 0, not_found = 0;
  for (int i = 0; i < 8; i++) {
    pthread_join(threads[i], NULL);
    ok += racers[i].status == PASSCODE_STATUS_OK;
    not_found += racers[i].status == PASSCODE_STATUS_NOT_FOUND;
  }
  CHECK(ok == 1 && not_found == 7, "of 8 concurrent verifies exactly one succeeds, the others find no challenge");
  passcode_issued_free(issued);

  /* Bad input changes nothing. */
  s = passcode_issue(engine, PASSCODE_CHANNEL_EMAIL, PASSCODE_PURPOSE_SIGN_UP, TEXT("not-an-address"), NULL, 0, NULL,
                     0, &issued, &failure);
  CHECK(s == PASSCODE_STATUS_INVALID_EMAIL && failure.status == s, "a malformed address is refused");
  s = passcode_issue(engine, PASSCODE_CHANNEL_EMAIL, PASSCODE_PURPOSE_SIGN_UP, NULL, 0, NULL, 0, NULL, 0, &issued,
                     NULL);
  CHECK(s == PASSCODE_STATUS_NULL_PARAMETER, "a NULL identifier is refused");

  /* Delivery: issue and send in one call. A place in the queue is taken first, so no code is
   * issued that could not be sent; the message leaves on delivery's own threads. */
  char delivery_config[512];
  char outbox[] = "/tmp/passcode-example-outbox-XXXXXX";
  const char *smtp_port = getenv("PASSCODE_EXAMPLE_SMTP_PORT");
  if (smtp_port != NULL) {
    snprintf(delivery_config, sizeof delivery_config,
             "[delivery.email]\nhost = \"127.0.0.1\"\nport = %s\ntls = \"none\"\n"
             "from = \"Example <sign-in@example.com>\"\n",
             smtp_port);
  } else {
    if (mkdtemp(outbox) == NULL) return 2;
    snprintf(delivery_config, sizeof delivery_config, "[delivery.outbox]\ndir = \"%s\"\n", outbox);
  }
  struct deliveries deliveries = {.sent = 0};
  if (pthread_mutex_init(&deliveries.lock, NULL) != 0 || pthread_cond_init(&deliveries.changed, NULL) != 0) return 2;
  PasscodeDeliveryEventSink delivery_sink = {.ctx = &deliveries, .emit = on_delivery};
  const PasscodeDelivery *delivery = NULL;
  s = passcode_delivery_new(TEXT(delivery_config), &delivery_sink, &delivery);
  CHECK(s == PASSCODE_STATUS_OK, smtp_port ? "delivery opens with an SMTP relay" : "delivery opens with an outbox");
  if (s != PASSCODE_STATUS_OK) return 1;
  s = passcode_issue_and_send(engine, delivery, true, PASSCODE_CHANNEL_EMAIL, PASSCODE_PURPOSE_SIGN_IN,
                              TEXT("ana.example@example.org"), NULL, 0, NULL, 0, &issued, &failure);
  CHECK(s == PASSCODE_STATUS_OK, "a sign-in code is issued and queued for delivery");
  if (s != PASSCODE_STATUS_OK) return 1;
  char sent_code[16];
  snprintf(sent_code, sizeof sent_code, "%s", passcode_issued_code(issued).data);
  CHECK(passcode_issued_purpose(issued) == PASSCODE_PURPOSE_SIGN_IN, "the issued challenge names its purpose");
  CHECK(passcode_issued_subject(issued).len == 16, "and its subject's pseudonym");
  passcode_issued_free(issued);
  wait_for_outcomes(&deliveries, 1);
  /* An identifier that is not an account: the same call, deliver = false, sends nothing. */
  s = passcode_issue_and_send(engine, delivery, false, PASSCODE_CHANNEL_EMAIL, PASSCODE_PURPOSE_SIGN_IN,
                              TEXT("nobody@example.org"), NULL, 0, NULL, 0, &issued, &failure);
  CHECK(s == PASSCODE_STATUS_OK, "the same call for an unknown account answers the same way");
  passcode_issued_free(issued);
  issued = NULL;
  if (smtp_port != NULL) { /* (the outbox takes every channel) */
    s = passcode_issue_and_send(engine, delivery, true, PASSCODE_CHANNEL_SMS, PASSCODE_PURPOSE_SIGN_IN,
                                TEXT("+447400123456"), NULL, 0, NULL, 0, &issued, &failure);
    CHECK(s == PASSCODE_STATUS_NO_SENDER && issued == NULL, "SMS with no SMS sender is refused, and nothing issued");
  }
  pthread_mutex_lock(&deliveries.lock);
  CHECK(deliveries.sent == 1 && deliveries.failed == 0 && deliveries.queued == 1, "exactly one message was sent");
  deliveries.seen[deliveries.seen_len] = 0;
  CHECK(strstr(deliveries.seen, sent_code) == NULL && strstr(deliveries.seen, "ana.example") == NULL,
        "no delivery event holds the code or the address");
  pthread_mutex_unlock(&deliveries.lock);
  passcode_delivery_free(delivery);
  passcode_delivery_free(NULL);
  pthread_cond_destroy(&deliveries.changed);
  pthread_mutex_destroy(&deliveries.lock);
  if (smtp_port == NULL) remove_folder(outbox);

  CHECK(table.puts > 0 && table.gets > 0, "the engine kept its records in the host's store");
  CHECK(atomic_load(&events.by_kind[PASSCODE_EVENT_KIND_ISSUED]) == 5, "the event sink saw 5 issues");
  CHECK(atomic_load(&events.by_kind[PASSCODE_EVENT_KIND_VERIFIED]) == 2, "and 2 verifications");
  CHECK(atomic_load(&events.by_kind[PASSCODE_EVENT_KIND_FAILED]) == 1, "and 1 wrong code");
  CHECK(atomic_load(&events.leaks) == 0, "every event names its subject by a pseudonym only");

  passcode_engine_free(engine);
  passcode_engine_free(NULL);
  passcode_issued_free(NULL);
  passcode_verified_free(NULL);
  table_free(&table);

  printf("%s: %d failed\n", failures ? "FAILED" : "PASSED", failures);
  return failures ? 1 : 0;
}
