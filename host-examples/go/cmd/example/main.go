// Command example runs sign-up by email through the Go binding of libpasscode. It prints each
// expectation it checks (never a code) and exits 0 only if every one held.
package main

import (
	"errors"
	"fmt"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"passcode.example/passcode"
)

var failures int

func check(ok bool, what string) {
	if ok {
		fmt.Println("ok  ", what)
	} else {
		fmt.Println("FAIL", what)
		failures++
	}
}

func main() {
	fmt.Printf("libpasscode %s, ABI %d\n", passcode.Version(), passcode.ABIVersion())
	now := int64(1800000000)
	clock := func() time.Time { return time.Unix(atomic.LoadInt64(&now), 0) }
	engine, err := passcode.Open(`{"messages": {"app_name": "Example"}}`, passcode.WithClock(clock))
	if err != nil {
		fmt.Println("FAIL open:", err)
		os.Exit(1)
	}
	defer engine.Close()

	req := passcode.IssueRequest{Channel: passcode.Email, Purpose: passcode.SignUp, Identifier: "jane@example.com"}
	issued, err := engine.Issue(req)
	check(err == nil, "a sign-up code is issued by email")
	if err != nil {
		os.Exit(1)
	}
	_, err = engine.Verify(issued.Token, "not-the-code")
	var pe *passcode.Error
	check(errors.As(err, &pe) && pe.Status == passcode.StatusWrongCode && pe.AttemptsLeft == 4, "a wrong code is refused with 4 attempts left")
	v, err := engine.Verify(issued.Token, issued.Code)
	check(err == nil && v.Identifier == "jane@example.com", "the right code is accepted")
	_, err = engine.Verify(issued.Token, issued.Code)
	check(errors.Is(err, passcode.ErrNotFound), "the same code is refused the second time")

	issued, err = engine.Issue(req)
	check(err == nil, "a second code is issued")
	atomic.AddInt64(&now, 601)
	_, err = engine.Verify(issued.Token, issued.Code)
	check(errors.Is(err, passcode.ErrExpired), "after 601 seconds on the host clock the code has expired")

	issued, err = engine.Issue(req)
	check(err == nil, "a third code is issued")
	var wg sync.WaitGroup
	var ok int32
	for i := 0; i < 8; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, err := engine.Verify(issued.Token, issued.Code); err == nil {
				atomic.AddInt32(&ok, 1)
			}
		}()
	}
	wg.Wait()
	check(ok == 1, "of 8 concurrent verifies exactly one succeeds")

	if failures > 0 {
		fmt.Printf("FAILED: %d failed\n", failures)
		os.Exit(1)
	}
	fmt.Println("PASSED: 0 failed")
}
