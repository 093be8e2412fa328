package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"time"
)

// SQL goes through the engine's own client (its protocol, authentication and TLS exactly);
// statements go on stdin, so no password is ever on a command line.

// Endpoint is a server to connect to.
type Endpoint struct {
	Name string `json:"name"`
	Host string `json:"host"`
	Port int    `json:"port"`
}

// Client runs the engine's tools against endpoints.
type Client struct {
	Dialect Dialect
	// OptionFile: [client] user, password and TLS options (mode 0600).
	OptionFile string
}

func (c Client) connection(e Endpoint) []string {
	return []string{"--defaults-extra-file=" + c.OptionFile, "--host=" + e.Host, "--port=" + strconv.Itoa(e.Port), "--protocol=TCP"}
}

// Query runs statements; tab-separated rows, no headers.
func (c Client) Query(ctx context.Context, e Endpoint, timeout time.Duration, statements string) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	args := append(c.connection(e), "--connect-timeout=2", "-N", "-B")
	return c.exec(ctx, c.Dialect.Client, args, strings.NewReader(statements+";\n"), nil)
}

// Load feeds a script to a node.
func (c Client) Load(ctx context.Context, e Endpoint, script io.Reader) error {
	_, err := c.exec(ctx, c.Dialect.Client, append(c.connection(e), "--connect-timeout=5"), script, nil)
	return err
}

// exec runs a tool; stdout goes to out, or is returned when out is nil.
func (c Client) exec(ctx context.Context, program string, args []string, stdin io.Reader, out io.Writer) (string, error) {
	cmd := exec.CommandContext(ctx, program, args...)
	cmd.Stdin = stdin
	var buf, errOut bytes.Buffer
	if out == nil {
		out = &buf
	}
	cmd.Stdout, cmd.Stderr = out, &errOut
	cmd.WaitDelay = time.Second
	if err := cmd.Run(); err != nil {
		if ctx.Err() != nil {
			return "", fmt.Errorf("%s: no answer in time: %s", program, strings.TrimSpace(errOut.String()))
		}
		return "", fmt.Errorf("%s: %v: %s", program, err, strings.TrimSpace(errOut.String()))
	}
	return buf.String(), nil
}

// WriteOptionFile writes the tools' option file, readable by this program only.
func WriteOptionFile(path, user, password string, tlsOptions []string) error {
	lines := append([]string{"[client]", "user=" + user, "password=" + password}, tlsOptions...)
	return os.WriteFile(path, []byte(strings.Join(lines, "\n")+"\n"), 0o600)
}
