package main

import (
	"fmt"
	"net"
	"net/http"
	"sort"
	"strings"
	"sync"
	"time"
)

// Metrics are the agent's Prometheus metrics (text exposition format, written by hand: a few
// gauges and counters need no library).
type Metrics struct {
	mu              sync.Mutex
	nodes           [2]string
	writer          string
	wanted          string
	writerReachable bool
	safe            bool
	failovers       int
	switchovers     int
	switchoverFails int
	rebuilds        int
	refusals        map[Refusal]int
	lastDecision    string
	lastDecisionAt  time.Time
	lastMoveAt      time.Time
}

func NewMetrics(nodes [2]Node, wanted string) *Metrics {
	m := &Metrics{nodes: [2]string{nodes[0].Name, nodes[1].Name}, wanted: wanted, refusals: map[Refusal]int{}}
	// Every label value from the start, so increase() sees the first one.
	for _, r := range []Refusal{RefusedSemiSyncOff, RefusedNotReplicating, RefusedNotReceiving, RefusedOtherDown, RefusedNothingSeen} {
		m.refusals[r] = 0
	}
	return m
}

func (m *Metrics) update(f func(m *Metrics)) {
	m.mu.Lock()
	defer m.mu.Unlock()
	f(m)
}

func b2f(b bool) int {
	if b {
		return 1
	}
	return 0
}

// Render writes the exposition text.
func (m *Metrics) Render() string {
	m.mu.Lock()
	defer m.mu.Unlock()
	var b strings.Builder
	metric := func(name, kind, help string, samples ...string) {
		fmt.Fprintf(&b, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, kind)
		for _, s := range samples {
			fmt.Fprintf(&b, "%s%s\n", name, s)
		}
	}
	perNode := func(is func(string) bool) []string {
		var out []string
		for _, n := range m.nodes {
			out = append(out, fmt.Sprintf(`{node=%q} %d`, n, b2f(is(n))))
		}
		return out
	}
	metric("dws_failover_writer", "gauge", "1 for the node the agent routes writes to.", perNode(func(n string) bool { return n == m.writer })...)
	metric("dws_failover_wanted_writer", "gauge", "1 for the node the writer prop names.", perNode(func(n string) bool { return n == m.wanted })...)
	metric("dws_failover_writer_reachable", "gauge", "1 while the writer answered the last probe.", fmt.Sprintf(" %d", b2f(m.writerReachable)))
	metric("dws_failover_promotion_safe", "gauge", "1 while the other node has every acknowledged write (the writer replicates semi-synchronously to it).", fmt.Sprintf(" %d", b2f(m.safe)))
	metric("dws_failover_failovers_total", "counter", "Automatic failovers done.", fmt.Sprintf(" %d", m.failovers))
	metric("dws_failover_switchovers_total", "counter", "Planned switchovers done.", fmt.Sprintf(" %d", m.switchovers))
	metric("dws_failover_switchovers_failed_total", "counter", "Planned switchovers given up (the other node did not catch up); the old writer was opened again.", fmt.Sprintf(" %d", m.switchoverFails))
	metric("dws_failover_rebuilds_total", "counter", "Former writers rebuilt from a dump of the writer.", fmt.Sprintf(" %d", m.rebuilds))
	var reasons []string
	for r := range m.refusals {
		reasons = append(reasons, string(r))
	}
	sort.Strings(reasons)
	var refusals []string
	for _, r := range reasons {
		refusals = append(refusals, fmt.Sprintf(`{reason=%q} %d`, r, m.refusals[Refusal(r)]))
	}
	metric("dws_failover_refusals_total", "counter", "Probes on which the writer was lost long enough but the other node was not promoted, by why.", refusals...)
	if m.lastDecision != "" {
		metric("dws_failover_last_decision_timestamp_seconds", "gauge", "When the agent last acted, by what it did.",
			fmt.Sprintf(`{decision=%q} %.3f`, m.lastDecision, float64(m.lastDecisionAt.UnixMilli())/1000))
	}
	if !m.lastMoveAt.IsZero() {
		metric("dws_failover_last_writer_change_timestamp_seconds", "gauge", "When the writer last moved.", fmt.Sprintf(" %.3f", float64(m.lastMoveAt.UnixMilli())/1000))
	}
	return b.String()
}

// Serve serves /metrics on address until the listener fails.
func (m *Metrics) Serve(address string, log *Logger) {
	mux := http.NewServeMux()
	mux.HandleFunc("/metrics", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain; version=0.0.4")
		fmt.Fprint(w, m.Render())
	})
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second, ReadTimeout: 10 * time.Second, WriteTimeout: 10 * time.Second}
	go func() {
		for {
			ln, err := net.Listen("tcp", address)
			if err == nil {
				log.Log("metrics", "metrics at http://"+address+"/metrics", nil)
				err = srv.Serve(ln)
			}
			// The name may not resolve until the container is on its network: try again.
			log.Say("metrics", "metrics endpoint: "+err.Error(), nil)
			time.Sleep(2 * time.Second)
		}
	}()
}
