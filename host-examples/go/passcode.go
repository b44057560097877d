// Package passcode is a Go binding of libpasscode, the Passcode one-time-passcode engine,
// through its C ABI (cgo; the library is found with pkg-config).
//
// An Engine is safe for concurrent use by many goroutines. Close it when done; a finalizer
// closes it if you forget. Failures are returned as *Error values carrying the library's
// status and, when the engine reports them, the attempts left and the wait before retrying;
// compare them with errors.Is(err, passcode.ErrWrongCode) and the like.
//
// A Delivery sends codes through the senders of a config's [delivery] section (SMTP, an SMS
// provider, a signed webhook, or a development outbox) from its own threads; Engine.IssueAndSend
// issues a code and queues its message in one step.
package passcode

/*
#cgo pkg-config: passcode
#include <stdint.h>
#include <stdlib.h>
#include <passcode.h>

extern uint64_t passcodeGoClockNow(uintptr_t handle);
extern void passcodeGoDeliveryEvent(uintptr_t handle, PasscodeDeliveryEvent *event);

static void passcode_go_delivery_emit(void *ctx, const PasscodeDeliveryEvent *event) {
	passcodeGoDeliveryEvent((uintptr_t)ctx, (PasscodeDeliveryEvent *)event);
}

// Opens delivery whose events go to the Go function behind the cgo handle (0: none).
static PasscodeStatus passcode_go_delivery_new(const char *config, size_t len, uintptr_t handle,
                                               const PasscodeDelivery **out) {
	if (handle == 0) {
		return passcode_delivery_new(config, len, NULL, out);
	}
	PasscodeDeliveryEventSink sink = { (void *)handle, passcode_go_delivery_emit };
	return passcode_delivery_new(config, len, &sink, out);
}

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
	StatusDeliveryQueueFull  Status = C.PASSCODE_STATUS_DELIVERY_QUEUE_FULL
	StatusNoSender           Status = C.PASSCODE_STATUS_NO_SENDER
	StatusDeliveryStopped    Status = C.PASSCODE_STATUS_DELIVERY_STOPPED
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
	ErrQueueFull       = &Error{Status: StatusDeliveryQueueFull}
	ErrNoSender        = &Error{Status: StatusNoSender}
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

// cText is a text argument in C memory: pointer and length.
type cText struct {
	p *C.char
	n C.size_t
}

// cArgs copies the identifier (or token) and the optional client and locale into C memory;
// free releases them.
func cArgs(required, client, locale string) (a, c, l cText, free func()) {
	ap, an, f1 := text(required)
	cp, cn, f2 := optional(client)
	lp, ln, f3 := optional(locale)
	return cText{ap, an}, cText{cp, cn}, cText{lp, ln}, func() { f1(); f2(); f3() }
}

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
	Purpose      Purpose
	Subject      string // the subject's pseudonym, for logs that must not carry the recipient
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
		Purpose:      Purpose(C.passcode_issued_purpose(p)),
		Subject:      str(C.passcode_issued_subject(p)),
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
	id, cl, lo, free := cArgs(r.Identifier, r.Client, r.Locale)
	defer free()
	var out *C.PasscodeIssued
	var f C.PasscodeFailure
	s := C.passcode_issue(e.ptr, C.uint32_t(r.Channel), C.uint32_t(r.Purpose), id.p, id.n, cl.p, cl.n, lo.p, lo.n, &out, &f)
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
	t, cl, lo, free := cArgs(token, client, locale)
	defer free()
	var out *C.PasscodeIssued
	var f C.PasscodeFailure
	if err := failure(C.passcode_resend(e.ptr, t.p, t.n, cl.p, cl.n, lo.p, lo.n, &out, &f), &f); err != nil {
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

// DeliveryEventKind says what happened to a message.
type DeliveryEventKind uint32

// The delivery event kinds.
const (
	DeliveryQueued  DeliveryEventKind = C.PASSCODE_DELIVERY_EVENT_KIND_QUEUED
	DeliveryRetried DeliveryEventKind = C.PASSCODE_DELIVERY_EVENT_KIND_RETRIED
	DeliverySent    DeliveryEventKind = C.PASSCODE_DELIVERY_EVENT_KIND_SENT
	DeliveryFailed  DeliveryEventKind = C.PASSCODE_DELIVERY_EVENT_KIND_FAILED
)

// DeliveryEvent is one step of one message. It holds no code, address or number.
type DeliveryEvent struct {
	Kind         DeliveryEventKind
	At           time.Time
	MessageID    string
	Channel      Channel
	Purpose      Purpose
	Subject      string // the subject's pseudonym
	Sender       string // "email", "sms", "sms_fallback", "webhook" or "outbox"; "" when queued
	Attempt      uint32
	ProviderID   string
	Reason       string // why, for retried and failed
	Status       uint32 // HTTP status or SMTP reply code of a failed attempt, or 0
	ProviderCode string
	RetryIn      time.Duration // for retried
}

func cstr(p *C.char, n C.size_t) string { return C.GoStringN(p, C.int(n)) }

//export passcodeGoDeliveryEvent
func passcodeGoDeliveryEvent(h C.uintptr_t, e *C.PasscodeDeliveryEvent) {
	listener := cgo.Handle(h).Value().(func(DeliveryEvent))
	listener(DeliveryEvent{
		Kind:         DeliveryEventKind(e.kind),
		At:           time.Unix(int64(e.at), 0),
		MessageID:    cstr(e.message_id, e.message_id_len),
		Channel:      Channel(e.channel),
		Purpose:      Purpose(e.purpose),
		Subject:      cstr(e.subject, e.subject_len),
		Sender:       cstr(e.sender, e.sender_len),
		Attempt:      uint32(e.attempt),
		ProviderID:   cstr(e.provider_id, e.provider_id_len),
		Reason:       cstr(e.reason, e.reason_len),
		Status:       uint32(e.status),
		ProviderCode: cstr(e.provider_code, e.provider_code_len),
		RetryIn:      time.Duration(e.retry_in_ms) * time.Millisecond,
	})
}

// Delivery sends messages through the senders of a config's [delivery] section, on its own
// threads, from a bounded queue. It is safe for concurrent use. Close drains the queue for at
// most the config's delivery.shutdown_ms.
type Delivery struct {
	mu       sync.RWMutex
	ptr      *C.PasscodeDelivery
	listener cgo.Handle
}

// OpenDelivery opens delivery from a config (the same text as Open). listener, if not nil,
// hears every delivery event, from delivery's threads: it must be safe for concurrent use.
func OpenDelivery(config string, listener func(DeliveryEvent)) (*Delivery, error) {
	d := &Delivery{}
	var handle C.uintptr_t
	if listener != nil {
		d.listener = cgo.NewHandle(listener)
		handle = C.uintptr_t(d.listener)
	}
	c, n, free := text(config)
	defer free()
	var out *C.PasscodeDelivery
	if s := C.passcode_go_delivery_new(c, n, handle, &out); s != C.PASSCODE_STATUS_OK {
		if d.listener != 0 {
			d.listener.Delete()
		}
		return nil, failure(s, nil)
	}
	d.ptr = out
	runtime.SetFinalizer(d, (*Delivery).Close)
	return d, nil
}

// Close stops delivery, draining its queue within the config's bound. Closing twice is harmless.
func (d *Delivery) Close() error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.ptr != nil {
		C.passcode_delivery_free(d.ptr)
		d.ptr = nil
		if d.listener != 0 {
			d.listener.Delete()
			d.listener = 0
		}
		runtime.SetFinalizer(d, nil)
	}
	return nil
}

// IssueAndSend issues a code and queues its message in one step: a place in the queue is
// taken first, so no code is issued that could not be sent. deliver = false (for an
// identifier that is not an account) takes the same steps and sends nothing.
func (e *Engine) IssueAndSend(d *Delivery, deliver bool, r IssueRequest) (*Issued, error) {
	e.mu.RLock()
	defer e.mu.RUnlock()
	d.mu.RLock()
	defer d.mu.RUnlock()
	if e.ptr == nil || d.ptr == nil {
		return nil, ErrClosed
	}
	id, cl, lo, free := cArgs(r.Identifier, r.Client, r.Locale)
	defer free()
	var out *C.PasscodeIssued
	var f C.PasscodeFailure
	s := C.passcode_issue_and_send(e.ptr, d.ptr, C.bool(deliver), C.uint32_t(r.Channel), C.uint32_t(r.Purpose),
		id.p, id.n, cl.p, cl.n, lo.p, lo.n, &out, &f)
	if err := failure(s, &f); err != nil {
		return nil, err
	}
	return issued(out), nil
}

// ResendAndSend re-sends a code and queues its message in one step (as IssueAndSend).
func (e *Engine) ResendAndSend(d *Delivery, deliver bool, token, client, locale string) (*Issued, error) {
	e.mu.RLock()
	defer e.mu.RUnlock()
	d.mu.RLock()
	defer d.mu.RUnlock()
	if e.ptr == nil || d.ptr == nil {
		return nil, ErrClosed
	}
	t, cl, lo, free := cArgs(token, client, locale)
	defer free()
	var out *C.PasscodeIssued
	var f C.PasscodeFailure
	s := C.passcode_resend_and_send(e.ptr, d.ptr, C.bool(deliver), t.p, t.n, cl.p, cl.n, lo.p, lo.n, &out, &f)
	if err := failure(s, &f); err != nil {
		return nil, err
	}
	return issued(out), nil
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
