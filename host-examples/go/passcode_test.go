package passcode

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

type testClock struct{ now int64 }

func (c *testClock) time() time.Time { return time.Unix(atomic.LoadInt64(&c.now), 0) }
func (c *testClock) advance(s int64) { atomic.AddInt64(&c.now, s) }

func open(t *testing.T, c *testClock) *Engine {
	t.Helper()
	e, err := Open("[messages]\napp_name = \"Go\"\n", WithClock(c.time))
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { _ = e.Close() })
	return e
}

func signUp(t *testing.T, e *Engine) *Issued {
	t.Helper()
	i, err := e.Issue(IssueRequest{Channel: Email, Purpose: SignUp, Identifier: "Jane.Doe@Example.COM", Client: "203.0.113.7"})
	if err != nil {
		t.Fatalf("Issue: %v", err)
	}
	return i
}

func TestABIVersionMatchesTheHeader(t *testing.T) {
	if ABIVersion() != HeaderABIVersion {
		t.Fatalf("library ABI %d, header ABI %d", ABIVersion(), HeaderABIVersion)
	}
	if Version() == "" {
		t.Fatal("no version")
	}
}

func TestSignUpFlow(t *testing.T) {
	c := &testClock{now: 1800000000}
	e := open(t, c)
	i := signUp(t, e)
	if i.Recipient != "Jane.Doe@example.com" || len(i.Code) != 6 || i.Channel != Email {
		t.Fatalf("issued %q, %d-symbol code, channel %d", i.Recipient, len(i.Code), i.Channel)
	}
	if !i.ExpiresAt.Equal(c.time().Add(10 * time.Minute)) {
		t.Fatalf("expires at %v", i.ExpiresAt)
	}

	wrong := []byte(i.Code)
	wrong[0] = '0' + (wrong[0]-'0'+1)%10
	_, err := e.Verify(i.Token, string(wrong))
	var pe *Error
	if !errors.Is(err, ErrWrongCode) || !errors.As(err, &pe) || !pe.HasAttemptsLeft || pe.AttemptsLeft != 4 {
		t.Fatalf("wrong code: %v %+v", err, pe)
	}
	if pe.Error() != "passcode: wrong code" {
		t.Fatalf("text %q", pe.Error())
	}

	v, err := e.Verify(i.Token, i.Code[:3]+" "+i.Code[3:])
	if err != nil || v.Identifier != "Jane.Doe@example.com" || v.Purpose != SignUp || v.Channel != Email {
		t.Fatalf("right code: %v %+v", err, v)
	}
	if _, err := e.Verify(i.Token, i.Code); !errors.Is(err, ErrNotFound) {
		t.Fatalf("same code again: %v", err)
	}

	i2 := signUp(t, e)
	c.advance(601)
	if _, err := e.Verify(i2.Token, i2.Code); !errors.Is(err, ErrExpired) {
		t.Fatalf("after expiry: %v", err)
	}
}

func TestBadInputIsAValue(t *testing.T) {
	if _, err := Open("colour = 1"); !errors.Is(err, &Error{Status: StatusUnknownConfigField}) {
		t.Fatalf("unknown field: %v", err)
	}
	if _, err := Open("[policy"); !errors.Is(err, &Error{Status: StatusConfigSyntax}) {
		t.Fatalf("syntax: %v", err)
	}
	e := open(t, &testClock{now: 1800000000})
	if _, err := e.Issue(IssueRequest{Channel: Email, Purpose: SignUp, Identifier: "nope"}); !errors.Is(err, ErrInvalidEmail) {
		t.Fatalf("bad address: %v", err)
	}
	if _, err := e.Issue(IssueRequest{Channel: Channel(9), Purpose: SignUp, Identifier: "a@example.com"}); !errors.Is(err, &Error{Status: StatusInvalidArgument}) {
		t.Fatalf("bad channel: %v", err)
	}
	if _, err := e.Verify("garbage", "123456"); !errors.Is(err, ErrInvalidToken) {
		t.Fatalf("bad token: %v", err)
	}
	if err := e.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := e.Verify("x", "y"); err != ErrClosed {
		t.Fatalf("after Close: %v", err)
	}
	if err := e.Close(); err != nil {
		t.Fatal("second Close", err)
	}
}

func TestConcurrentVerifiesExactlyOneSucceeds(t *testing.T) {
	e := open(t, &testClock{now: 1800000000})
	i := signUp(t, e)
	var wg sync.WaitGroup
	var ok, notFound, other int32
	for g := 0; g < 8; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, err := e.Verify(i.Token, i.Code)
			switch {
			case err == nil:
				atomic.AddInt32(&ok, 1)
			case errors.Is(err, ErrNotFound):
				atomic.AddInt32(&notFound, 1)
			default:
				atomic.AddInt32(&other, 1)
			}
		}()
	}
	wg.Wait()
	if ok != 1 || notFound != 7 || other != 0 {
		t.Fatalf("ok %d, not found %d, other %d", ok, notFound, other)
	}
}

// deliveryConfig is an SMTP relay on 127.0.0.1:$PASSCODE_EXAMPLE_SMTP_PORT when the tests
// started one, else a development outbox in dir.
func deliveryConfig(dir string) string {
	if port := os.Getenv("PASSCODE_EXAMPLE_SMTP_PORT"); port != "" {
		return "[delivery.email]\nhost = \"127.0.0.1\"\ntls = \"none\"\nport = " + port +
			"\nfrom = \"Go <sign-in@example.com>\"\n"
	}
	return "[delivery.outbox]\ndir = \"" + dir + "\"\n"
}

func TestIssueAndSendDelivers(t *testing.T) {
	e := open(t, &testClock{now: 1800000000})
	dir := t.TempDir()
	var mu sync.Mutex
	var seen []DeliveryEvent
	done := make(chan struct{}, 4)
	d, err := OpenDelivery(deliveryConfig(dir), func(ev DeliveryEvent) {
		mu.Lock()
		seen = append(seen, ev)
		mu.Unlock()
		if ev.Kind == DeliverySent || ev.Kind == DeliveryFailed {
			done <- struct{}{}
		}
	})
	if err != nil {
		t.Fatalf("OpenDelivery: %v", err)
	}
	defer d.Close()
	i, err := e.IssueAndSend(d, true, IssueRequest{Channel: Email, Purpose: SignIn, Identifier: "ana.go@example.org"})
	if err != nil {
		t.Fatalf("IssueAndSend: %v", err)
	}
	if i.Purpose != SignIn || len(i.Subject) != 16 {
		t.Fatalf("purpose %v, subject %q", i.Purpose, i.Subject)
	}
	select {
	case <-done:
	case <-time.After(20 * time.Second):
		t.Fatal("no delivery outcome within 20 s")
	}
	mu.Lock()
	defer mu.Unlock()
	last := seen[len(seen)-1]
	if last.Kind != DeliverySent || last.Subject != i.Subject {
		t.Fatalf("last event %+v", last)
	}
	for _, ev := range seen {
		all := ev.MessageID + ev.Subject + ev.Sender + ev.ProviderID + ev.Reason
		if strings.Contains(all, i.Code) || strings.Contains(all, "ana.go") {
			t.Fatalf("an event holds the code or the address: %+v", ev)
		}
	}
	if os.Getenv("PASSCODE_EXAMPLE_SMTP_PORT") == "" {
		files, _ := filepath.Glob(filepath.Join(dir, "*-email.txt"))
		if len(files) != 1 {
			t.Fatalf("outbox files: %v", files)
		}
		body, _ := os.ReadFile(files[0])
		if !strings.Contains(string(body), i.Code) {
			t.Fatal("the outbox message does not hold the code")
		}
	}
	if _, err := e.IssueAndSend(d, true, IssueRequest{Channel: SMS, Purpose: SignIn, Identifier: "+447400123456"}); os.Getenv("PASSCODE_EXAMPLE_SMTP_PORT") != "" && !errors.Is(err, ErrNoSender) {
		t.Fatalf("SMS with no SMS sender: %v", err)
	}
}
