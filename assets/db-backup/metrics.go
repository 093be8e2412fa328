package main

import (
	"fmt"
	"strings"
	"sync"
	"time"
)

// Metrics: the backups' Prometheus metrics, for the BackupTooOld and BinlogArchiveBehind alerts.
type Metrics struct {
	mu       sync.Mutex
	last     Manifest
	haveLast bool
	failures int
	archiver *Archiver
}

func (m *Metrics) Succeeded(b Manifest) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.last, m.haveLast = b, true
}

func (m *Metrics) Failed() {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.failures++
}

func (m *Metrics) Render() string {
	m.mu.Lock()
	defer m.mu.Unlock()
	var b strings.Builder
	gauge := func(name, help string, value float64) {
		fmt.Fprintf(&b, "# HELP %s %s\n# TYPE %s gauge\n%s %g\n", name, help, name, name, value)
	}
	last := 0.0
	if m.haveLast {
		last = float64(m.last.FinishedAt.Unix())
	}
	gauge("dws_backup_last_success_timestamp_seconds", "When the last good full backup finished (0: none yet).", last)
	gauge("dws_backup_last_size_bytes", "The last good full backup's size, encrypted.", float64(m.last.Bytes))
	gauge("dws_backup_last_duration_seconds", "How long the last good full backup took.", m.last.DurationSeconds)
	fmt.Fprintf(&b, "# HELP dws_backup_failures_total Full backups that failed.\n# TYPE dws_backup_failures_total counter\ndws_backup_failures_total %d\n", m.failures)
	if m.archiver != nil {
		up, lag := m.archiver.Status()
		gauge("dws_binlog_archive_up", "1 while the binary logs stream from the writer.", map[bool]float64{true: 1, false: 0}[up])
		gauge("dws_binlog_archive_lag_bytes", "How far the archive is behind the writer's binary log (-1: unknown).", float64(lag))
	}
	gauge("dws_backup_metrics_timestamp_seconds", "When these figures were read.", float64(time.Now().Unix()))
	return b.String()
}
