package main

import (
	"encoding/json"
	"io"
	"sync"
	"time"
)

// Logger writes one JSON object a line: time, event, message and fields. The message keeps the
// words a person greps for ("failover: X is the writer").
type Logger struct {
	mu   sync.Mutex
	out  io.Writer
	now  func() time.Time
	said string
}

func NewLogger(out io.Writer) *Logger { return &Logger{out: out, now: time.Now} }

// Log writes a line.
func (l *Logger) Log(event, msg string, fields map[string]any) {
	line := map[string]any{"ts": l.now().UTC().Format(time.RFC3339Nano), "event": event, "msg": msg}
	for k, v := range fields {
		line[k] = v
	}
	raw, _ := json.Marshal(line)
	l.mu.Lock()
	defer l.mu.Unlock()
	l.out.Write(append(raw, '\n'))
}

// Say logs a decision's reason once, not every probe while it stays the same.
func (l *Logger) Say(event, msg string, fields map[string]any) {
	l.mu.Lock()
	same := l.said == msg
	l.said = msg
	l.mu.Unlock()
	if !same && msg != "" {
		l.Log(event, msg, fields)
	}
}
