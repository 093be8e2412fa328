package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// SQL goes through the engine's own command-line client, run in the engine's own image: it speaks
// the servers' protocol, authentication plugins and TLS exactly, and the agent needs no driver.
// Statements go on stdin, so a password in one is never on a command line.

// Client runs statements on nodes.
type Client struct {
	Program string
	// OptionFile: [client] user, password, TLS options (mode 0600).
	OptionFile string
}

// SQLError is a failed call: how it failed, and what the client said.
type SQLError struct {
	Failure Failure
	Code    int
	Message string
}

func (e *SQLError) Error() string {
	if e.Code != 0 {
		return fmt.Sprintf("%s (error %d): %s", e.Failure, e.Code, e.Message)
	}
	return fmt.Sprintf("%s: %s", e.Failure, e.Message)
}

var clientError = regexp.MustCompile(`ERROR (\d+) \(\w+\)(?: at line \d+)?: (.*)`)

// classify turns the client's exit into a Failure. 2005: unknown host. 2002/2003: cannot connect
// (errno 111 refused; 110 timed out; 113 no route).
func classify(stderr string, timedOut bool) *SQLError {
	msg := strings.TrimSpace(stderr)
	if timedOut {
		return &SQLError{Failure: TimedOut, Message: "no answer in time " + msg}
	}
	m := clientError.FindStringSubmatch(msg)
	if m == nil {
		return &SQLError{Failure: OtherError, Message: msg}
	}
	code, _ := strconv.Atoi(m[1])
	e := &SQLError{Code: code, Message: m[2]}
	switch {
	case code == 2005:
		e.Failure = Gone
	case (code == 2002 || code == 2003) && strings.Contains(m[2], "(111)"):
		e.Failure = Refused
	case code == 2002 || code == 2003 || code == 2013:
		e.Failure = TimedOut
	default:
		e.Failure = OtherError
	}
	return e
}

// FailureOf says how an error from Run failed.
func FailureOf(err error) Failure {
	var e *SQLError
	if errors.As(err, &e) {
		return e.Failure
	}
	if err != nil {
		return OtherError
	}
	return Answered
}

// args: the client's connection options. The dump tools know no --connect-timeout.
func (c Client) args(n Node, extra ...string) []string {
	return append(c.connection(n), append([]string{"--connect-timeout=2"}, extra...)...)
}

func (c Client) connection(n Node) []string {
	return []string{"--defaults-extra-file=" + c.OptionFile, "--host=" + n.Host, "--port=" + strconv.Itoa(n.Port), "--protocol=TCP"}
}

// Run runs statements on a node within timeout; tab-separated rows, no headers.
func (c Client) Run(ctx context.Context, n Node, timeout time.Duration, statements string) (string, error) {
	return c.run(ctx, n, timeout, strings.NewReader(statements+";\n"), "-N", "-B")
}

// Vertical runs one statement and returns its \G output (SHOW REPLICA STATUS).
func (c Client) Vertical(ctx context.Context, n Node, timeout time.Duration, statement string) (string, error) {
	return c.run(ctx, n, timeout, strings.NewReader(statement+";\n"), "-E")
}

// Load feeds a script (a rebuild's dump) to a node.
func (c Client) Load(ctx context.Context, n Node, timeout time.Duration, script io.Reader) error {
	_, err := c.run(ctx, n, timeout, script)
	return err
}

func (c Client) run(ctx context.Context, n Node, timeout time.Duration, stdin io.Reader, extra ...string) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, c.Program, c.args(n, extra...)...)
	cmd.Stdin = stdin
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	cmd.WaitDelay = time.Second
	err := cmd.Run()
	if err == nil {
		return out.String(), nil
	}
	var exit *exec.ExitError
	if !errors.As(err, &exit) && ctx.Err() == nil {
		return "", &SQLError{Failure: OtherError, Message: err.Error()}
	}
	return "", classify(errOut.String(), ctx.Err() != nil)
}

// Dump writes a consistent dump of schemas on n to file.
func (c Client) Dump(ctx context.Context, program string, n Node, timeout time.Duration, dumpArgs, schemas []string, file string) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	f, err := os.OpenFile(file, os.O_CREATE|os.O_TRUNC|os.O_WRONLY, 0o600)
	if err != nil {
		return err
	}
	defer f.Close()
	args := append(c.connection(n), dumpArgs...)
	args = append(args, "--databases")
	args = append(args, schemas...)
	cmd := exec.CommandContext(ctx, program, args...)
	var errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = f, &errOut
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("%s: %v: %s", program, err, strings.TrimSpace(errOut.String()))
	}
	return f.Sync()
}

// WriteOptionFile writes the client's option file, readable by the agent only.
func WriteOptionFile(path, user, password string, tlsOptions []string) error {
	lines := append([]string{"[client]", "user=" + user, "password=" + password}, tlsOptions...)
	return os.WriteFile(path, []byte(strings.Join(lines, "\n")+"\n"), 0o600)
}
