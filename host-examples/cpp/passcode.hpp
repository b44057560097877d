// passcode.hpp: a small C++17 RAII wrapper over libpasscode's C ABI (passcode.h).
//
// - Owning handles: Engine, Issued and Verified free their C object when destroyed; they are
//   move-only.
// - Failures throw passcode::Error, which carries the status, its text, and the attempts left
//   or the wait in seconds when the engine reported one.
// - Text goes in as std::string_view and comes out as std::string (copied, so it outlives the
//   handle).
// - An Engine may be used from many threads at once (the C engine is thread-safe).
#ifndef PASSCODE_HPP
#define PASSCODE_HPP

#include <passcode.h>

#include <cstdint>
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

 private:
  std::unique_ptr<PasscodeIssued, detail::IssuedFree> raw_;
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
