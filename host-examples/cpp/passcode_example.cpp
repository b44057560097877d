// Sign-up by email through libpasscode from C++17, with the RAII wrapper passcode.hpp, a host
// clock, and a host store (an unordered_map with versions behind a mutex).
//
//   c++ -std=c++17 -Wall -Wextra -Wpedantic -Werror -I. passcode_example.cpp
//       $(pkg-config --cflags --libs passcode) -pthread -o passcode_example   (one line)
//
// Prints each expectation it checks; exits 0 only if every one held. Never prints a code.
// Delivery goes to an SMTP server on 127.0.0.1:$PASSCODE_EXAMPLE_SMTP_PORT when that is set (the
// tests start one), else to a DEVELOPMENT outbox folder under /tmp.
#include "passcode.hpp"

#include <algorithm>
#include <array>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdlib>
#include <filesystem>
#include <cstdio>
#include <cstring>
#include <mutex>
#include <string>
#include <thread>
#include <unordered_map>
#include <unistd.h>
#include <vector>

namespace {

int failures = 0;

void check(bool ok, const char* what) {
  std::printf("%s %s\n", ok ? "ok  " : "FAIL", what);
  if (!ok) failures++;
}

// Runs `f`, which must throw passcode::Error with `want`; returns the error's details.
template <typename F>
std::optional<passcode::Error> refused(F&& f, PasscodeStatus want) {
  try {
    f();
  } catch (const passcode::Error& e) {
    if (e.status() == want) return e;
    std::printf("     got %s\n", e.what());
  }
  return std::nullopt;
}

// ---- the host clock ----
uint64_t clock_now(void* ctx) { return static_cast<std::atomic<uint64_t>*>(ctx)->load(); }

// ---- the host store ----
struct Store {
  struct Entry {
    std::vector<uint8_t> value;
    uint64_t version;
    uint64_t expires_at;  // 0: never
  };
  std::mutex lock;
  std::unordered_map<std::string, Entry> entries;
  uint64_t next_version = 1;
  unsigned long puts = 0;

  static std::string key_of(const uint8_t* key) {
    return std::string(reinterpret_cast<const char*>(key), PASSCODE_STORE_KEY_BYTES);
  }
  static bool live(const Entry& e, uint64_t now) { return e.expires_at == 0 || now < e.expires_at; }

  static uint32_t get(void* ctx, const uint8_t* key, uint64_t now, PasscodeStoreFound* found) {
    auto* s = static_cast<Store*>(ctx);
    std::lock_guard<std::mutex> g(s->lock);
    auto it = s->entries.find(key_of(key));
    if (it != s->entries.end() && live(it->second, now)) {
      const auto& e = it->second;
      if (passcode_store_found_set(found, e.value.data(), e.value.size(), e.version) != PASSCODE_STATUS_OK)
        return PASSCODE_STORE_OUTCOME_FAILED;
    }
    return PASSCODE_STORE_OUTCOME_OK;
  }

  static uint32_t put(void* ctx, const uint8_t* key, const uint8_t* value, size_t len, uint64_t ttl,
                      uint64_t expected, uint64_t now, uint64_t* new_version) {
    auto* s = static_cast<Store*>(ctx);
    std::lock_guard<std::mutex> g(s->lock);
    s->puts++;
    auto k = key_of(key);
    auto it = s->entries.find(k);
    uint64_t current = (it != s->entries.end() && live(it->second, now)) ? it->second.version : 0;
    if (current != expected) return PASSCODE_STORE_OUTCOME_CONFLICT;
    Entry e{std::vector<uint8_t>(value, value + len), s->next_version++, ttl ? now + ttl : 0};
    *new_version = e.version;
    s->entries[k] = std::move(e);
    return PASSCODE_STORE_OUTCOME_OK;
  }

  static uint32_t remove(void* ctx, const uint8_t* key, uint64_t version, uint64_t now) {
    auto* s = static_cast<Store*>(ctx);
    std::lock_guard<std::mutex> g(s->lock);
    auto it = s->entries.find(key_of(key));
    if (it == s->entries.end() || !live(it->second, now) || it->second.version != version)
      return PASSCODE_STORE_OUTCOME_CONFLICT;
    s->entries.erase(it);
    return PASSCODE_STORE_OUTCOME_OK;
  }
};

}  // namespace

int main() {
  std::printf("libpasscode %s, ABI %u\n", passcode::version().c_str(), passcode::abi_version());
  check(passcode::abi_version() == PASSCODE_ABI_VERSION, "the loaded library has the header's ABI version");

  std::atomic<uint64_t> now{1800000000u};
  Store store;
  PasscodeClock clock{&now, clock_now};
  PasscodeStore callbacks{&store, Store::get, Store::put, Store::remove};
  PasscodeHostParts parts{&callbacks, &clock, nullptr};

  check(refused([] { passcode::Engine bad("colour = 1"); }, PASSCODE_STATUS_UNKNOWN_CONFIG_FIELD).has_value(),
        "a config with an unknown field throws");
  // A host store may be shared by other engines: without a key ring each would count apart.
  check(refused([&] { passcode::Engine keyless(R"({"messages": {"app_name": "Example"}})", &parts); },
                PASSCODE_STATUS_POLICY_OUT_OF_BOUNDS)
            .has_value(),
        "a host store without a key ring is refused");

  try {
    // This program is alone on its store, so a key for this process is enough; a real host
    // names its key files or variables in the config's [keys] ring.
    const passcode::Engine engine(R"({"keys": {"ephemeral": true}, "messages": {"app_name": "Example"}})", &parts);
    using passcode::Channel;
    using passcode::Purpose;

    auto issued = engine.issue(Channel::email, Purpose::sign_up, "Jane.Doe@Example.COM", "2001:db8::7");
    const std::string token = issued.token();
    const std::string code = issued.code();
    check(issued.recipient() == "Jane.Doe@example.com", "a sign-up code is issued to the normalised address");
    check(code.size() == 6, "the code has 6 digits");
    check(issued.email_text().find(code) != std::string::npos, "the email text carries the code");
    check(issued.expires_at() == now.load() + 600, "the code expires in 10 minutes");
    check(issued.channel() == Channel::email, "the channel is email");

    std::string wrong = code;
    wrong[0] = wrong[0] == '9' ? '0' : static_cast<char>(wrong[0] + 1);
    auto e = refused([&] { engine.verify(token, wrong); }, PASSCODE_STATUS_WRONG_CODE);
    check(e.has_value(), "a wrong code throws WRONG_CODE");
    check(e && e->attempts_left() == std::optional<uint32_t>(4), "with 4 attempts left");
    if (e) std::printf("     (%s)\n", e->what());

    auto v = engine.verify(token, code.substr(0, 3) + "-" + code.substr(3));
    check(v.identifier() == "Jane.Doe@example.com" && v.purpose() == Purpose::sign_up,
          "the right code is accepted and names the address and purpose");
    check(refused([&] { engine.verify(token, code); }, PASSCODE_STATUS_NOT_FOUND).has_value(),
          "the same code is refused the second time");

    auto second = engine.issue(Channel::email, Purpose::sign_up, "jane.doe@example.com");
    now += 601;
    check(refused([&] { engine.verify(second.token(), second.code()); }, PASSCODE_STATUS_EXPIRED).has_value(),
          "after 601 seconds on the host clock the code has expired");

    auto third = engine.issue(Channel::email, Purpose::sign_up, "jane.doe@example.com");
    std::atomic<int> ok{0}, not_found{0};
    std::vector<std::thread> threads;
    for (int i = 0; i < 8; i++) {
      threads.emplace_back([&] {
        try {
          engine.verify(third.token(), third.code());
          ok++;
        } catch (const passcode::Error& err) {
          if (err.status() == PASSCODE_STATUS_NOT_FOUND) not_found++;
        }
      });
    }
    for (auto& t : threads) t.join();
    check(ok == 1 && not_found == 7, "of 8 concurrent verifies exactly one succeeds, the others find no challenge");

    check(refused([&] { engine.issue(Channel::email, Purpose::sign_up, "not-an-address"); },
                  PASSCODE_STATUS_INVALID_EMAIL)
              .has_value(),
          "a malformed address throws INVALID_EMAIL");
    check(refused([&] { engine.issue(Channel::email, Purpose::sign_up, std::string_view()); },
                  PASSCODE_STATUS_INVALID_EMAIL)
              .has_value(),
          "an empty identifier is an empty string, not a NULL");
    check(refused([&] { engine.verify("garbage", "123456"); }, PASSCODE_STATUS_INVALID_TOKEN).has_value(),
          "a forged token throws INVALID_TOKEN");
    check(store.puts > 0, "the engine kept its records in the host's store");

    // Delivery: issue and send in one call; the listener hears what happened, on delivery's threads.
    const char* port = std::getenv("PASSCODE_EXAMPLE_SMTP_PORT");
    std::filesystem::path outbox;
    std::string config;
    if (port != nullptr) {
      config = std::string("[delivery.email]\nhost = \"127.0.0.1\"\ntls = \"none\"\nport = ") + port +
               "\nfrom = \"Example <sign-in@example.com>\"\n";
    } else {
      outbox = std::filesystem::temp_directory_path() / ("passcode-cpp-outbox-" + std::to_string(::getpid()));
      config = "[delivery.outbox]\ndir = \"" + outbox.string() + "\"\n";
    }
    std::mutex m;
    std::condition_variable changed;
    std::vector<passcode::DeliveryEvent> seen;
    {
      const passcode::Delivery delivery(config, [&](const passcode::DeliveryEvent& e) {
        std::lock_guard<std::mutex> lock(m);
        seen.push_back(e);
        changed.notify_all();
      });
      auto sent = engine.issue_and_send(delivery, true, Channel::email, Purpose::sign_in, "ana.cpp@example.org");
      check(sent.purpose() == Purpose::sign_in && sent.subject().size() == 16,
            "issue_and_send returns the challenge, its purpose and pseudonym");
      std::unique_lock<std::mutex> lock(m);
      bool done = changed.wait_for(lock, std::chrono::seconds(20), [&] {
        return std::any_of(seen.begin(), seen.end(), [](const passcode::DeliveryEvent& e) {
          return e.kind == PASSCODE_DELIVERY_EVENT_KIND_SENT || e.kind == PASSCODE_DELIVERY_EVENT_KIND_FAILED;
        });
      });
      check(done && seen.back().kind == PASSCODE_DELIVERY_EVENT_KIND_SENT, "the message was sent");
      bool clean = true;
      for (const auto& e : seen) {
        for (const std::string* field : {&e.message_id, &e.subject, &e.sender, &e.provider_id, &e.reason}) {
          clean = clean && field->find(sent.code()) == std::string::npos && field->find("ana.cpp") == std::string::npos;
        }
      }
      check(clean, "no delivery event holds the code or the address");
      lock.unlock();
      if (port != nullptr) {
        check(refused([&] { engine.issue_and_send(delivery, true, Channel::sms, Purpose::sign_in, "+447400123456"); },
                      PASSCODE_STATUS_NO_SENDER)
                  .has_value(),
              "SMS with no SMS sender throws NO_SENDER");
      }
    }
    if (!outbox.empty()) std::filesystem::remove_all(outbox);
  } catch (const passcode::Error& e) {
    std::printf("FAIL unexpected error: %s\n", e.what());
    failures++;
  }

  std::printf("%s: %d failed\n", failures ? "FAILED" : "PASSED", failures);
  return failures ? 1 : 0;
}
