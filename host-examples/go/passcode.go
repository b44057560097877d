// Package passcode is a Go binding of libpasscode, the Passcode one-time-passcode engine,
// through its C ABI (cgo; the library is found with pkg-config).
//
// An Engine is safe for concurrent use by many goroutines. Close it when done; a finalizer
// closes it if you forget. Failures are returned as *Error values carrying the library's
// status and, when the engine reports them, the attempts left and the wait before retrying;
// compare them with errors.Is(err, passcode.ErrWrongCode) and the like.
package passcode

/*
#cgo pkg-config: passcode
#include <stdint.h>
#include <stdlib.h>
#include <passcode.h>

extern uint64_t passcodeGoClockNow(uintptr_t handle);

static uint64_t passcode_go_clock(void *ctx) {
	return passcodeGoClockNow((uintptr_t)ctx);
}

// Opens an engine whose clock is the Go function behind the cgo handle (0: the system clock).
// The handle crosses as an integer, never as a Go pointer.
static PasscodeStatus passcode_go_engine_new(const char *config, size_t len, uintptr_t clock_handle,
                                             const PasscodeEngine **out) {
	if (clock_handle == 0) {
		return passcode_engine_new(config, len, NULL, out);
	}
	PasscodeClock clock = { (void *)clock_handle, passcode_go_clock };
	PasscodeHostParts parts = { NULL, &clock, NULL };
	return passcode_engine_new(config, len, &parts, out);
}
*/
import "C"

import (
	"errors"
	"runtime"
	"runtime/cgo"
	"sync"
	"time"
	"unsafe"
)

// Channel says how a code travels.
type Channel uint32

// The channels.
const (
	Email Channel = C.PASSCODE_CHANNEL_EMAIL
	SMS   Channel = C.PASSCODE_CHANNEL_SMS
)

// Purpose says what a code is for; a code never verifies for another purpose.
type Purpose uint32

// The purposes.
const (
	SignUp        Purpose = C.PASSCODE_PURPOSE_SIGN_UP
	SignIn        Purpose = C.PASSCODE_PURPOSE_SIGN_IN
	SecondFactor  Purpose = C.PASSCODE_PURPOSE_SECOND_FACTOR
	VerifyContact Purpose = C.PASSCODE_PURPOSE_VERIFY_CONTACT
	Recovery      Purpose = C.PASSCODE_PURPOSE_RECOVERY
)

// Status is the library's status number (the same numbers on every Passcode surface).
type Status uint32

// The statuses a Go program most often tells apart; every other one still arrives as an
// *Error with its number.
const (
	StatusOK                 Status = C.PASSCODE_STATUS_OK
	StatusInvalidEmail       Status = C.PASSCODE_STATUS_INVALID_EMAIL
	StatusInvalidPhone       Status = C.PASSCODE_STATUS_INVALID_PHONE
	StatusInputTooLong       Status = C.PASSCODE_STATUS_INPUT_TOO_LONG
	StatusInvalidUTF8        Status = C.PASSCODE_STATUS_INVALID_UTF8
	StatusInvalidToken       Status = C.PASSCODE_STATUS_INVALID_TOKEN
	StatusInvalidArgument    Status = C.PASSCODE_STATUS_INVALID_ARGUMENT
	StatusConfigSyntax       Status = C.PASSCODE_STATUS_CONFIG_SYNTAX
	StatusUnknownConfigField Status = C.PASSCODE_STATUS_UNKNOWN_CONFIG_FIELD
	StatusWeakKey            Status = C.PASSCODE_STATUS_WEAK_KEY
	StatusWrongCode          Status = C.PASSCODE_STATUS_WRONG_CODE
	StatusExpired            Status = C.PASSCODE_STATUS_EXPIRED
	StatusTooManyAttempts    Status = C.PASSCODE_STATUS_TOO_MANY_ATTEMPTS
	StatusSubjectLocked      Status = C.PASSCODE_STATUS_SUBJECT_LOCKED
	StatusNotFound           Status = C.PASSCODE_STATUS_NOT_FOUND
	StatusWrongCodeLocked    Status = C.PASSCODE_STATUS_WRONG_CODE_LOCKED
	StatusResendTooSoon      Status = C.PASSCODE_STATUS_RESEND_TOO_SOON
	StatusSendLimit          Status = C.PASSCODE_STATUS_SEND_LIMIT
	StatusStoreUnavailable   Status = C.PASSCODE_STATUS_STORE_UNAVAILABLE
	StatusClockOutOfRange    Status = C.PASSCODE_STATUS_CLOCK_OUT_OF_RANGE
	StatusNullParameter      Status = C.PASSCODE_STATUS_NULL_PARAMETER
	StatusPanic              Status = C.PASSCODE_STATUS_PANIC
)

// String is the library's text for the status.
func (s Status) String() string {
	var buf [C.PASSCODE_STATUS_TEXT_MAX + 1]C.char
	var n C.size_t
	if C.passcode_status_text(C.uint32_t(s), &buf[0], C.size_t(len(buf)), &n) != C.PASSCODE_STATUS_OK {
		return "passcode status " + itoa(uint64(s))
	}
	return C.GoStringN(&buf[0], C.int(n))
}

// Error is a refusal or failure reported by the library.
type Error struct {
	Status Status
	// AttemptsLeft is the tries left on the challenge after a wrong code (HasAttemptsLeft).
	AttemptsLeft    uint32
	HasAttemptsLeft bool
	// RetryAfter is the wait before trying again, for locks and send limits (HasRetryAfter;
	// a hard lock has none).
	RetryAfter    time.Duration
	HasRetryAfter bool
}

func (e *Error) Error() string { return "passcode: " + e.Status.String() }

// Is matches any *Error with the same Status, so errors.Is(err, ErrWrongCode) works.
func (e *Error) Is(target error) bool {
	t, ok := target.(*Error)
	return ok && t.Status == e.Status
}

// Sentinel errors for errors.Is.
var (
	ErrWrongCode       = &Error{Status: StatusWrongCode}
	ErrExpired         = &Error{Status: StatusExpired}
	ErrTooManyAttempts = &Error{Status: StatusTooManyAttempts}
	ErrSubjectLocked   = &Error{Status: StatusSubjectLocked}
	ErrNotFound        = &Error{Status: StatusNotFound}
	// ErrWrongCodeLocked: a wrong code, counted, that started a lock (RetryAfter, none if hard).
	ErrWrongCodeLocked = &Error{Status: StatusWrongCodeLocked}
	ErrInvalidToken    = &Error{Status: StatusInvalidToken}
	ErrInvalidEmail    = &Error{Status: StatusInvalidEmail}
)

// ErrClosed is returned by every method of an Engine after Close.
var ErrClosed = errors.New("passcode: engine closed")

func failure(s C.PasscodeStatus, f *C.PasscodeFailure) error {
	if s == C.PASSCODE_STATUS_OK {
		return nil
	}
	e := &Error{Status: Status(s)}
	if f != nil && Status(f.status) == Status(s) {
		e.HasAttemptsLeft = bool(f.has_attempts_left)
		e.AttemptsLeft = uint32(f.attempts_left)
		e.HasRetryAfter = bool(f.has_retry_after)
		e.RetryAfter = time.Duration(f.retry_after) * time.Second
	}
	return e
}

// text is a C copy of s (never NULL), freed by the returned function.
func text(s string) (*C.char, C.size_t, func()) {
	p := C.CString(s)
	return p, C.size_t(len(s)), func() { C.free(unsafe.Pointer(p)) }
}

// optional is text, or NULL and 0 for "".
func optional(s string) (*C.char, C.size_t, func()) {
	if s == "" {
		return nil, 0, func() {}
	}
	return text(s)
}

func str(s C.PasscodeStr) string { return C.GoStringN(s.data, C.int(s.len)) }

//export passcodeGoClockNow
func passcodeGoClockNow(h C.uintptr_t) C.uint64_t {
	now := cgo.Handle(h).Value().(func() time.Time)()
	if now.Unix() < 0 {
		return 0
	}
	return C.uint64_t(now.Unix())
}

// Option configures Open.
type Option func(*options)

type options struct{ clock func() time.Time }

// WithClock makes the engine read time from now (a server's own clock, a test clock) instead
// of the system clock. now is called from whichever goroutines call the engine.
func WithClock(now func() time.Time) Option { return func(o *options) { o.clock = now } }

// Engine is an open Passcode engine. It is safe for concurrent use.
type Engine struct {
	mu    sync.RWMutex
	ptr   *C.PasscodeEngine
	clock cgo.Handle
}

// Open opens an engine from a TOML or JSON config (the same schema as every Passcode surface).
func Open(config string, opts ...Option) (*Engine, error) {
	var o options
	for _, opt := range opts {
		opt(&o)
	}
	e := &Engine{}
	var handle C.uintptr_t
	if o.clock != nil {
		e.clock = cgo.NewHandle(o.clock)
		handle = C.uintptr_t(e.clock)
	}
	c, n, free := text(config)
	defer free()
	var out *C.PasscodeEngine
	if s := C.passcode_go_engine_new(c, n, handle, &out); s != C.PASSCODE_STATUS_OK {
		if e.clock != 0 {
			e.clock.Delete()
		}
		return nil, failure(s, nil)
	}
	e.ptr = out
	runtime.SetFinalizer(e, (*Engine).Close)
	return e, nil
}

// Close frees the engine. It waits for calls in progress; later calls return ErrClosed.
// Closing twice is harmless.
func (e *Engine) Close() error {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.ptr != nil {
		C.passcode_engine_free(e.ptr)
		e.ptr = nil
		if e.clock != 0 {
			e.clock.Delete()
			e.clock = 0
		}
		runtime.SetFinalizer(e, nil)
	}
	return nil
}

// IssueRequest asks for a new code.
type IssueRequest struct {
	Channel    Channel
	Purpose    Purpose
	Identifier string // the email address or E.164 number, as typed
	Client     string // the client's IP address, or "" for none
	Locale     string // a locale tag such as "fr-CA", or "" for the default
}

// Issued is a code issued or re-sent. Code is the secret: deliver it, never log it.
type Issued struct {
	Token        string
	Code         string
	Recipient    string
	Channel      Channel
	SMSText      string
	EmailSubject string
	EmailText    string
	EmailHTML    string
	ExpiresAt    time.Time
	ResendAt     time.Time
}

// Verified says who a verified code was sent to and what for.
type Verified struct {
	Identifier string
	Channel    Channel
	Purpose    Purpose
}

func issued(p *C.PasscodeIssued) *Issued {
	defer C.passcode_issued_free(p)
	return &Issued{
		Token:        str(C.passcode_issued_token(p)),
		Code:         str(C.passcode_issued_code(p)),
		Recipient:    str(C.passcode_issued_recipient(p)),
		Channel:      Channel(C.passcode_issued_channel(p)),
		SMSText:      str(C.passcode_issued_sms_text(p)),
		EmailSubject: str(C.passcode_issued_email_subject(p)),
		EmailText:    str(C.passcode_issued_email_text(p)),
		EmailHTML:    str(C.passcode_issued_email_html(p)),
		ExpiresAt:    time.Unix(int64(C.passcode_issued_expires_at(p)), 0),
		ResendAt:     time.Unix(int64(C.passcode_issued_resend_at(p)), 0),
	}
}

// Issue issues a code for a new challenge, replacing any live one of the same subject and purpose.
func (e *Engine) Issue(r IssueRequest) (*Issued, error) {
	e.mu.RLock()
	defer e.mu.RUnlock()
	if e.ptr == nil {
		return nil, ErrClosed
	}
	id, idn, f1 := text(r.Identifier)
	defer f1()
	cl, cln, f2 := optional(r.Client)
	defer f2()
	lo, lon, f3 := optional(r.Locale)
	defer f3()
	var out *C.PasscodeIssued
	var f C.PasscodeFailure
	s := C.passcode_issue(e.ptr, C.uint32_t(r.Channel), C.uint32_t(r.Purpose), id, idn, cl, cln, lo, lon, &out, &f)
	if err := failure(s, &f); err != nil {
		return nil, err
	}
	return issued(out), nil
}

// Resend sends a new code for a live challenge; the token stays the same.
func (e *Engine) Resend(token, client, locale string) (*Issued, error) {
	e.mu.RLock()
	defer e.mu.RUnlock()
	if e.ptr == nil {
		return nil, ErrClosed
	}
	t, tn, f1 := text(token)
	defer f1()
	cl, cln, f2 := optional(client)
	defer f2()
	lo, lon, f3 := optional(locale)
	defer f3()
	var out *C.PasscodeIssued
	var f C.PasscodeFailure
	if err := failure(C.passcode_resend(e.ptr, t, tn, cl, cln, lo, lon, &out, &f), &f); err != nil {
		return nil, err
	}
	return issued(out), nil
}

// Verify checks a code. On success the challenge is used up.
func (e *Engine) Verify(token, code string) (*Verified, error) {
	e.mu.RLock()
	defer e.mu.RUnlock()
	if e.ptr == nil {
		return nil, ErrClosed
	}
	t, tn, f1 := text(token)
	defer f1()
	c, cn, f2 := text(code)
	defer f2()
	var out *C.PasscodeVerified
	var f C.PasscodeFailure
	if err := failure(C.passcode_verify(e.ptr, t, tn, c, cn, &out, &f), &f); err != nil {
		return nil, err
	}
	defer C.passcode_verified_free(out)
	return &Verified{
		Identifier: str(C.passcode_verified_identifier(out)),
		Channel:    Channel(C.passcode_verified_channel(out)),
		Purpose:    Purpose(C.passcode_verified_purpose(out)),
	}, nil
}

// Cancel cancels a live challenge.
func (e *Engine) Cancel(token string) error {
	e.mu.RLock()
	defer e.mu.RUnlock()
	if e.ptr == nil {
		return ErrClosed
	}
	t, tn, f1 := text(token)
	defer f1()
	return failure(C.passcode_cancel(e.ptr, t, tn), nil)
}

// Unlock is an operator's unlock of a subject's failures and lock.
func (e *Engine) Unlock(ch Channel, identifier string) error {
	e.mu.RLock()
	defer e.mu.RUnlock()
	if e.ptr == nil {
		return ErrClosed
	}
	id, idn, f1 := text(identifier)
	defer f1()
	return failure(C.passcode_unlock(e.ptr, C.uint32_t(ch), id, idn), nil)
}

// Version is the library's version; ABIVersion its ABI major version.
func Version() string { return str(C.passcode_version()) }

// ABIVersion is the loaded library's ABI major version.
func ABIVersion() uint32 { return uint32(C.passcode_abi_version()) }

// HeaderABIVersion is the ABI version of the header this package was built with.
const HeaderABIVersion = C.PASSCODE_ABI_VERSION

func itoa(v uint64) string {
	if v == 0 {
		return "0"
	}
	var b [20]byte
	i := len(b)
	for v > 0 {
		i--
		b[i] = byte('0' + v%10)
		v /= 10
	}
	return string(b[i:])
}
