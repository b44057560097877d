// passcode.hpp: a small C++17 RAII wrapper over libpasscode's C ABI (passcode.h).
//
// - Owning handles: Engine, Issued and Verified free their C object when destroyed; they are
//   move-only.
// - Failures throw passcode::Error, which carries the status, its text, and the attempts left
//   or the wait in seconds when the engine reported one.
// - Text goes in as std::string_view and comes out as std::string (copied, so it outlives the
//   handle).
// - An Engine may be used from many threads at once (the C engine is thread-safe), and so may a
//   Delivery, whose listener is called from delivery's worker threads.
#ifndef PASSCODE_HPP
#define PASSCODE_HPP

#include <passcode.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>

namespace passcode {

enum class Channel : uint32_t { email = PASSCODE_CHANNEL_EMAIL, sms = PASSCODE_CHANNEL_SMS };

enum class Purpose : uint32_t {
  sign_up = PASSCODE_PURPOSE_SIGN_UP,
  sign_in = PASSCODE_PURPOSE_SIGN_IN,
  second_factor = PASSCODE_PURPOSE_SECOND_FACTOR,
  verify_contact = PASSCODE_PURPOSE_VERIFY_CONTACT,
  recovery = PASSCODE_PURPOSE_RECOVERY,
};

// The text of a status, as the library words it.
inline std::string status_text(PasscodeStatus status) {
  char buf[PASSCODE_STATUS_TEXT_MAX + 1];
  size_t n = 0;
  if (passcode_status_text(status, buf, sizeof buf, &n) != PASSCODE_STATUS_OK) {
    return "status " + std::to_string(static_cast<uint32_t>(status));
  }
  return std::string(buf, n);
}

// A refusal or failure from the library.
class Error : public std::runtime_error {
 public:
  explicit Error(PasscodeStatus status, const PasscodeFailure* failure = nullptr)
      : std::runtime_error(status_text(status)), status_(status) {
    if (failure != nullptr) {
      if (failure->has_attempts_left) attempts_left_ = failure->attempts_left;
      if (failure->has_retry_after) retry_after_ = failure->retry_after;
    }
  }
  PasscodeStatus status() const noexcept { return status_; }
  // Tries left on the challenge, after a wrong code.
  std::optional<uint32_t> attempts_left() const noexcept { return attempts_left_; }
  // Seconds to wait, for locks and send limits (none for a hard lock).
  std::optional<uint64_t> retry_after() const noexcept { return retry_after_; }

 private:
  PasscodeStatus status_;
  std::optional<uint32_t> attempts_left_;
  std::optional<uint64_t> retry_after_;
};

namespace detail {
// A required text argument: never a NULL pointer, even for an empty view.
inline const char* data(std::string_view s) noexcept { return s.data() != nullptr ? s.data() : ""; }
inline std::string copy(PasscodeStr s) { return std::string(s.data, s.len); }
inline void check(PasscodeStatus s, const PasscodeFailure* f = nullptr) {
  if (s != PASSCODE_STATUS_OK) throw Error(s, f);
}
struct EngineFree {
  void operator()(const PasscodeEngine* e) const noexcept { passcode_engine_free(e); }
};
struct IssuedFree {
  void operator()(PasscodeIssued* i) const noexcept { passcode_issued_free(i); }
};
struct VerifiedFree {
  void operator()(PasscodeVerified* v) const noexcept { passcode_verified_free(v); }
};
struct DeliveryFree {
  void operator()(const PasscodeDelivery* d) const noexcept { passcode_delivery_free(d); }
};
inline std::string copy(const char* data, size_t len) { return std::string(data, len); }
}  // namespace detail

// A code issued or re-sent. code() is the secret: never log it.
class Issued {
 public:
  explicit Issued(PasscodeIssued* raw) : raw_(raw) {}
  std::string token() const { return detail::copy(passcode_issued_token(raw_.get())); }
  std::string code() const { return detail::copy(passcode_issued_code(raw_.get())); }
  std::string recipient() const { return detail::copy(passcode_issued_recipient(raw_.get())); }
  std::string sms_text() const { return detail::copy(passcode_issued_sms_text(raw_.get())); }
  std::string email_subject() const { return detail::copy(passcode_issued_email_subject(raw_.get())); }
  std::string email_text() const { return detail::copy(passcode_issued_email_text(raw_.get())); }
  std::string email_html() const { return detail::copy(passcode_issued_email_html(raw_.get())); }
  uint64_t expires_at() const noexcept { return passcode_issued_expires_at(raw_.get()); }
  uint64_t resend_at() const noexcept { return passcode_issued_resend_at(raw_.get()); }
  Channel channel() const noexcept { return static_cast<Channel>(passcode_issued_channel(raw_.get())); }
  Purpose purpose() const noexcept { return static_cast<Purpose>(passcode_issued_purpose(raw_.get())); }
  // The subject's pseudonym, for logs that must not carry the recipient.
  std::string subject() const { return detail::copy(passcode_issued_subject(raw_.get())); }
  const PasscodeIssued* get() const noexcept { return raw_.get(); }

 private:
  std::unique_ptr<PasscodeIssued, detail::IssuedFree> raw_;
};

// What happened to a message, copied out of the C event (it holds no code, address or number).
struct DeliveryEvent {
  PasscodeDeliveryEventKind kind;
  uint64_t at;
  std::string message_id;
  Channel channel;
  Purpose purpose;
  std::string subject;
  std::string sender;
  uint32_t attempt;
  std::string provider_id;
  std::string reason;
  uint32_t status;
  std::string provider_code;
  std::optional<uint64_t> retry_in_ms;
};

// Delivery: the senders of the config's [delivery] section and their queue. Thread-safe. The
// listener is called from delivery's worker threads (and the threads that queue messages), so
// it must be thread-safe. Destroying it drains the queue for at most delivery.shutdown_ms.
class Delivery {
 public:
  using Listener = std::function<void(const DeliveryEvent&)>;

  explicit Delivery(std::string_view config, Listener listener = nullptr)
      : listener_(listener ? std::make_unique<Listener>(std::move(listener)) : nullptr) {
    PasscodeDeliveryEventSink sink{listener_.get(), &Delivery::emit};
    const PasscodeDelivery* raw = nullptr;
    detail::check(passcode_delivery_new(detail::data(config), config.size(), listener_ ? &sink : nullptr, &raw));
    raw_.reset(raw);
  }

  // Queues an issued challenge's message (copied).
  void send(const Issued& issued) const { detail::check(passcode_delivery_send(raw_.get(), issued.get())); }

  const PasscodeDelivery* get() const noexcept { return raw_.get(); }

 private:
  static void emit(void* ctx, const PasscodeDeliveryEvent* e) {
    auto* listener = static_cast<Listener*>(ctx);
    DeliveryEvent event{e->kind,
                        e->at,
                        detail::copy(e->message_id, e->message_id_len),
                        static_cast<Channel>(e->channel),
                        static_cast<Purpose>(e->purpose),
                        detail::copy(e->subject, e->subject_len),
                        detail::copy(e->sender, e->sender_len),
                        e->attempt,
                        detail::copy(e->provider_id, e->provider_id_len),
                        detail::copy(e->reason, e->reason_len),
                        e->status,
                        detail::copy(e->provider_code, e->provider_code_len),
                        e->has_retry_in ? std::optional<uint64_t>(e->retry_in_ms) : std::nullopt};
    try {
      (*listener)(event);
    } catch (...) {
      // An exception must not cross into the library's threads.
    }
  }

  // The listener lives on the heap so its address (the C sink's ctx) survives a move; the
  // handle is declared after it, so it is freed (and the workers stopped) first.
  std::unique_ptr<Listener> listener_;
  std::unique_ptr<const PasscodeDelivery, detail::DeliveryFree> raw_;
};

// Who a verified code was sent to, and what for.
class Verified {
 public:
  explicit Verified(PasscodeVerified* raw) : raw_(raw) {}
  std::string identifier() const { return detail::copy(passcode_verified_identifier(raw_.get())); }
  Channel channel() const noexcept { return static_cast<Channel>(passcode_verified_channel(raw_.get())); }
  Purpose purpose() const noexcept { return static_cast<Purpose>(passcode_verified_purpose(raw_.get())); }

 private:
  std::unique_ptr<PasscodeVerified, detail::VerifiedFree> raw_;
};

// The engine. Thread-safe: share it (by reference) between threads.
class Engine {
 public:
  // Opens an engine from a TOML or JSON config; `parts` (optional) brings the host's store,
  // clock and event sink, whose ctx pointers must outlive the engine.
  explicit Engine(std::string_view config, const PasscodeHostParts* parts = nullptr) {
    const PasscodeEngine* raw = nullptr;
    detail::check(passcode_engine_new(detail::data(config), config.size(), parts, &raw));
    raw_.reset(raw);
  }

  Issued issue(Channel channel, Purpose purpose, std::string_view identifier,
               std::optional<std::string_view> client = std::nullopt,
               std::optional<std::string_view> locale = std::nullopt) const {
    PasscodeIssued* out = nullptr;
    PasscodeFailure f{};
    detail::check(passcode_issue(raw_.get(), static_cast<uint32_t>(channel), static_cast<uint32_t>(purpose),
                                 detail::data(identifier), identifier.size(), client ? detail::data(*client) : nullptr,
                                 client ? client->size() : 0, locale ? detail::data(*locale) : nullptr,
                                 locale ? locale->size() : 0, &out, &f),
                  &f);
    return Issued(out);
  }

  Issued resend(std::string_view token, std::optional<std::string_view> client = std::nullopt,
                std::optional<std::string_view> locale = std::nullopt) const {
    PasscodeIssued* out = nullptr;
    PasscodeFailure f{};
    detail::check(passcode_resend(raw_.get(), detail::data(token), token.size(), client ? detail::data(*client) : nullptr,
                                  client ? client->size() : 0, locale ? detail::data(*locale) : nullptr,
                                  locale ? locale->size() : 0, &out, &f),
                  &f);
    return Issued(out);
  }

  // Issues a code and queues its message in one step (a place in the queue is taken first, so
  // no code is issued that could not be sent). Pass deliver = false for an identifier that is
  // not an account: the same steps and answer, nothing sent.
  Issued issue_and_send(const Delivery& delivery, bool deliver, Channel channel, Purpose purpose,
                        std::string_view identifier, std::optional<std::string_view> client = std::nullopt,
                        std::optional<std::string_view> locale = std::nullopt) const {
    PasscodeIssued* out = nullptr;
    PasscodeFailure f{};
    detail::check(passcode_issue_and_send(raw_.get(), delivery.get(), deliver, static_cast<uint32_t>(channel),
                                          static_cast<uint32_t>(purpose), detail::data(identifier), identifier.size(),
                                          client ? detail::data(*client) : nullptr, client ? client->size() : 0,
                                          locale ? detail::data(*locale) : nullptr, locale ? locale->size() : 0, &out,
                                          &f),
                  &f);
    return Issued(out);
  }

  // A resend whose message is queued in the same step.
  Issued resend_and_send(const Delivery& delivery, bool deliver, std::string_view token,
                         std::optional<std::string_view> client = std::nullopt,
                         std::optional<std::string_view> locale = std::nullopt) const {
    PasscodeIssued* out = nullptr;
    PasscodeFailure f{};
    detail::check(passcode_resend_and_send(raw_.get(), delivery.get(), deliver, detail::data(token), token.size(),
                                           client ? detail::data(*client) : nullptr, client ? client->size() : 0,
                                           locale ? detail::data(*locale) : nullptr, locale ? locale->size() : 0, &out,
                                           &f),
                  &f);
    return Issued(out);
  }

  Verified verify(std::string_view token, std::string_view code) const {
    PasscodeVerified* out = nullptr;
    PasscodeFailure f{};
    detail::check(passcode_verify(raw_.get(), detail::data(token), token.size(), detail::data(code), code.size(), &out, &f),
                  &f);
    return Verified(out);
  }

  void cancel(std::string_view token) const {
    detail::check(passcode_cancel(raw_.get(), detail::data(token), token.size()));
  }

  void unlock(Channel channel, std::string_view identifier) const {
    detail::check(passcode_unlock(raw_.get(), static_cast<uint32_t>(channel), detail::data(identifier), identifier.size()));
  }

  const PasscodeEngine* get() const noexcept { return raw_.get(); }

 private:
  std::unique_ptr<const PasscodeEngine, detail::EngineFree> raw_;
};

// The library's version and ABI major version.
inline std::string version() { return detail::copy(passcode_version()); }
inline uint32_t abi_version() noexcept { return passcode_abi_version(); }

}  // namespace passcode

#endif  // PASSCODE_HPP
