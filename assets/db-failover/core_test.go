package main

import (
	"reflect"
	"strings"
	"testing"
	"time"
)

// One case per guarantee of the README's "How the writer is chosen, and what is guaranteed".

var (
	t0 = time.Date(2026, 12, 2, 10, 0, 0, 0, time.UTC)
	pr = Node{Name: "web-db-primary", Host: "web-db-primary", Port: 3306}
	re = Node{Name: "web-db-replica", Host: "web-db-replica", Port: 3306}
)

func policy() Policy {
	return Policy{Nodes: [2]Node{pr, re}, Wanted: pr.Name, Automatic: true, SemiSync: true,
		FailoverAfter: 5 * time.Second, GoneAfter: time.Second, RejoinedAfter: 30 * time.Second}
}

// A healthy writer: writable, semi-sync source with a replica connected.
func writer(name string) NodeView {
	return NodeView{Name: name, SemiSyncSourceOn: true, SemiSyncSourceEnabled: true, GTIDs: "x:1-100", ReplicaKnown: true}
}

// A healthy replica of source: read-only, semi-sync replica, both threads running.
func replicaOf(name string, source Node) NodeView {
	return NodeView{Name: name, ReadOnly: true, SemiSyncReplicaEnabled: true, GTIDs: "x:1-100", ReplicaKnown: true,
		Replica: &ReplicaStatus{SourceHost: source.Host, SourcePort: source.Port, IORunning: "Yes", SQLRunning: "Yes", SQLState: "Replica has read all relay log"}}
}

func down(name string, f Failure) NodeView { return NodeView{Name: name, Failure: f} }

// A replica whose receiver lost its source and retries.
func connecting(name string, source Node) NodeView {
	v := replicaOf(name, source)
	v.Replica.IORunning = "Connecting"
	return v
}

// A replica whose receiver is stopped (STOP ... IO_THREAD), no error.
func stopped(name string, source Node) NodeView {
	v := replicaOf(name, source)
	v.Replica.IORunning = "No"
	return v
}

// seen: the memory after one healthy probe of the pair at t.
func seen(p Policy, t time.Time) Memory {
	m := InitialMemory(p, pr.Name, p.Wanted, "")
	return Decide(p, m, Observation{Now: t, Writer: writer(pr.Name), Other: replicaOf(re.Name, pr)}).Memory
}

func kinds(acts []Action) []string {
	out := []string{}
	for _, a := range acts {
		out = append(out, a.String())
	}
	return out
}

type step struct {
	at     time.Duration
	writer NodeView
	other  NodeView
}

type coreCase struct {
	name    string
	policy  func(Policy) Policy
	memory  func(Policy) Memory // before the steps; default: seen at t0
	steps   []step
	actions []string // of the last step
	reason  string   // substring of the last step's reason ("" asserts an empty reason)
	refusal Refusal
	check   func(t *testing.T, m Memory)
}

func runCase(t *testing.T, c coreCase) {
	p := policy()
	if c.policy != nil {
		p = c.policy(p)
	}
	m := seen(p, t0)
	if c.memory != nil {
		m = c.memory(p)
	}
	var d Decision
	for _, s := range c.steps {
		d = Decide(p, m, Observation{Now: t0.Add(s.at), Writer: s.writer, Other: s.other})
		m = d.Memory
	}
	if got := kinds(d.Actions()); !reflect.DeepEqual(got, c.actions) {
		t.Errorf("actions:\n got %q\nwant %q", got, c.actions)
	}
	if c.reason == "" && d.Reason != "" || !strings.Contains(d.Reason, c.reason) {
		t.Errorf("reason: got %q, want it to contain %q", d.Reason, c.reason)
	}
	if d.Refusal != c.refusal {
		t.Errorf("refusal: got %q, want %q", d.Refusal, c.refusal)
	}
	if c.check != nil {
		c.check(t, m)
	}
}

func TestDecide(t *testing.T) {
	healthy := []string{"route-writer web-db-primary", "route-reader web-db-replica"}
	promote := []string{"failover web-db-replica from web-db-primary", "remember-wanted web-db-primary"}
	cases := []coreCase{
		{
			name:    "a healthy pair: writes to the writer, reads to the replica, nothing else",
			steps:   []step{{1 * time.Second, writer(pr.Name), replicaOf(re.Name, pr)}},
			actions: healthy,
			check: func(t *testing.T, m Memory) {
				if !m.Safe {
					t.Errorf("a semi-sync replica connected: promotion is safe, got unsafe %q", m.Unsafe)
				}
			},
		},
		{
			name:    "the designated writer is kept writable: a read-only writer (restarted fenced) is opened",
			steps:   []step{{1 * time.Second, func() NodeView { v := writer(pr.Name); v.ReadOnly = true; return v }(), replicaOf(re.Name, pr)}},
			actions: append([]string{"open-writer web-db-primary"}, healthy...),
		},
		{
			name:    "the writer replicates from nobody: one that still replicates is detached and opened",
			steps:   []step{{1 * time.Second, func() NodeView { v := writer(pr.Name); v.Replica = replicaOf("", re).Replica; return v }(), replicaOf(re.Name, pr)}},
			actions: append([]string{"open-writer web-db-primary"}, healthy...),
		},
		{
			name: "the writer is the semi-sync source: one in the replica role is given the source role",
			steps: []step{{1 * time.Second, func() NodeView {
				v := writer(pr.Name)
				v.SemiSyncSourceEnabled, v.SemiSyncReplicaEnabled = false, true
				return v
			}(), replicaOf(re.Name, pr)}},
			actions: append([]string{"open-writer web-db-primary"}, healthy...),
		},
		{
			name:    "the other node is kept read-only: a writable one is fenced",
			steps:   []step{{1 * time.Second, writer(pr.Name), func() NodeView { v := replicaOf(re.Name, pr); v.ReadOnly = false; return v }()}},
			actions: []string{"route-writer web-db-primary", "fence web-db-replica", "route-reader web-db-replica"},
		},
		{
			name: "a replica restarted with the source role is made a semi-sync replica again",
			steps: []step{{1 * time.Second, writer(pr.Name), func() NodeView {
				v := replicaOf(re.Name, pr)
				v.SemiSyncReplicaEnabled, v.SemiSyncSourceEnabled = false, true
				return v
			}()}},
			actions: []string{"route-writer web-db-primary", "semi-sync-replica web-db-replica", "route-reader web-db-replica"},
		},
		{
			name:    "a node replicating from nobody is pointed at the writer; reads stay on the writer until it replicates",
			steps:   []step{{1 * time.Second, writer(pr.Name), func() NodeView { v := replicaOf(re.Name, pr); v.Replica = nil; return v }()}},
			actions: []string{"route-writer web-db-primary", "point-at web-db-replica from web-db-primary", "route-reader web-db-primary"},
			check: func(t *testing.T, m Memory) {
				if m.Safe || m.Unsafe != "web-db-replica did not replicate from web-db-primary" {
					t.Errorf("got safe=%v %q", m.Safe, m.Unsafe)
				}
			},
		},
		{
			name:    "reads go to the writer while the replica's applier is stopped",
			steps:   []step{{1 * time.Second, writer(pr.Name), func() NodeView { v := replicaOf(re.Name, pr); v.Replica.SQLRunning = "No"; return v }()}},
			actions: []string{"route-writer web-db-primary", "route-reader web-db-primary"},
		},
		{
			name:    "reads go to the writer while the replica does not answer",
			steps:   []step{{1 * time.Second, writer(pr.Name), down(re.Name, TimedOut)}},
			actions: []string{"route-writer web-db-primary", "route-reader web-db-primary"},
		},
		{
			name: "on a semi-sync source with no replica connected, a hung killed dump is freed",
			steps: []step{{1 * time.Second, func() NodeView { v := writer(pr.Name); v.SemiSyncSourceOn = false; v.StuckDumps = 1; return v }(),
				func() NodeView { v := replicaOf(re.Name, pr); v.Replica.IORunning = "Connecting"; return v }()}},
			actions: []string{"route-writer web-db-primary", "unstick-dumps web-db-primary", "route-reader web-db-primary"},
		},

		// Unplanned failover.
		// Ahead of a failover: a gone writer's replica stops receiving at once.
		{
			name:    "the writer gone and the replica lost it too: the replica's receiver is stopped at once, before a failover is due",
			steps:   []step{{500 * time.Millisecond, down(pr.Name, Gone), connecting(re.Name, pr)}},
			actions: []string{"route-writer nowhere", "stop-receiver web-db-replica"},
			reason:  "web-db-primary unreachable (gone); web-db-replica lost it too: its receiver stopped ahead of a failover",
		},
		{
			name:    "a gone writer is out of the route at once (clients fail fast); answering again, it is routed again",
			steps:   []step{{500 * time.Millisecond, down(pr.Name, Gone), replicaOf(re.Name, pr)}, {900 * time.Millisecond, writer(pr.Name), replicaOf(re.Name, pr)}},
			actions: healthy,
		},
		{
			name:    "the writer gone while the replica still receives from it: its receiver is left alone",
			steps:   []step{{500 * time.Millisecond, down(pr.Name, Gone), replicaOf(re.Name, pr)}},
			actions: []string{"route-writer nowhere"},
			reason:  "web-db-primary unreachable (gone)",
		},
		{
			name:    "the writer timed out (not gone), the replica lost it: its receiver is left alone (a hung writer may answer again)",
			steps:   []step{{500 * time.Millisecond, down(pr.Name, TimedOut), connecting(re.Name, pr)}},
			actions: []string{},
			reason:  "web-db-primary unreachable (timed out)",
		},
		{
			name: "the writer gone but promotion unsafe (semi-sync was off): the receiver is left alone, there will be no failover",
			memory: func(p Policy) Memory {
				m := seen(p, t0)
				m.Safe, m.Unsafe = false, "semi-sync was off on web-db-primary"
				return m
			},
			steps:   []step{{500 * time.Millisecond, down(pr.Name, Gone), connecting(re.Name, pr)}},
			actions: []string{"route-writer nowhere"},
			reason:  "web-db-primary unreachable (gone)",
		},
		{
			name: "after the receiver was stopped, the failover is done as due",
			steps: []step{
				{500 * time.Millisecond, down(pr.Name, Gone), connecting(re.Name, pr)},
				{1600 * time.Millisecond, down(pr.Name, Gone), stopped(re.Name, pr)},
			},
			actions: []string{"route-writer nowhere", "failover web-db-replica from web-db-primary", "remember-wanted web-db-primary"},
			reason:  "failover: web-db-primary gone (its name does not resolve) for 1.1s; promoting web-db-replica",
		},
		{
			name: "the writer back after its replica's receiver was stopped (its container restarted): the replica receives again",
			steps: []step{
				{500 * time.Millisecond, down(pr.Name, Gone), connecting(re.Name, pr)},
				{900 * time.Millisecond, writer(pr.Name), stopped(re.Name, pr)},
			},
			actions: []string{"route-writer web-db-primary", "start-receiver web-db-replica", "route-reader web-db-primary"},
		},
		{
			name: "once the replica receives again, the agent forgets it stopped it",
			steps: []step{
				{500 * time.Millisecond, down(pr.Name, Gone), connecting(re.Name, pr)},
				{900 * time.Millisecond, writer(pr.Name), stopped(re.Name, pr)},
				{1400 * time.Millisecond, writer(pr.Name), replicaOf(re.Name, pr)},
			},
			actions: healthy,
			check: func(t *testing.T, m Memory) {
				if m.ReceiverStopped != "" {
					t.Fatalf("ReceiverStopped = %q, want it forgotten", m.ReceiverStopped)
				}
			},
		},
		{
			name:    "a receiver stopped by someone else is theirs: left stopped",
			steps:   []step{{time.Second, writer(pr.Name), stopped(re.Name, pr)}},
			actions: []string{"route-writer web-db-primary", "route-reader web-db-primary"},
		},
		{
			name:    "the writer unreachable for less than afterSeconds: nothing moves",
			steps:   []step{{2 * time.Second, down(pr.Name, TimedOut), replicaOf(re.Name, pr)}, {4 * time.Second, down(pr.Name, TimedOut), replicaOf(re.Name, pr)}},
			actions: []string{},
			reason:  "web-db-primary unreachable (timed out)",
		},
		{
			name:    "the writer unreachable for afterSeconds, semi-sync ON when last seen: the replica is promoted",
			steps:   []step{{2 * time.Second, down(pr.Name, TimedOut), replicaOf(re.Name, pr)}, {5 * time.Second, down(pr.Name, TimedOut), replicaOf(re.Name, pr)}},
			actions: promote,
			reason:  "failover: web-db-primary unreachable for 5s; promoting web-db-replica",
			check: func(t *testing.T, m Memory) {
				if m.Writer != re.Name || m.Lost != pr.Name {
					t.Errorf("remembered writer %q lost %q", m.Writer, m.Lost)
				}
			},
		},
		{
			name:    "a hung writer (SIGSTOP: state and ping time out) is failed over after afterSeconds",
			steps:   []step{{5 * time.Second, down(pr.Name, TimedOut), replicaOf(re.Name, pr)}},
			actions: promote,
			reason:  "unreachable for 5s",
		},
		{
			name: "a slow writer (its state query times out, SELECT 1 answers) is not down: no failover, however long",
			steps: []step{
				{3 * time.Second, NodeView{Name: pr.Name, Failure: TimedOut, AnswersPing: true}, replicaOf(re.Name, pr)},
				{6 * time.Second, NodeView{Name: pr.Name, Failure: TimedOut, AnswersPing: true}, replicaOf(re.Name, pr)},
				{60 * time.Second, NodeView{Name: pr.Name, Failure: TimedOut, AnswersPing: true}, replicaOf(re.Name, pr)},
			},
			actions: []string{},
			reason:  "web-db-primary answers but did not report its state in time",
		},
		{
			name: "kill -9 of the writer's server: refused while it restarts, back within afterSeconds: it is opened again, not failed over",
			steps: []step{
				{1 * time.Second, down(pr.Name, Refused), replicaOf(re.Name, pr)},
				{4 * time.Second, down(pr.Name, Refused), replicaOf(re.Name, pr)},
				{4500 * time.Millisecond, func() NodeView { v := writer(pr.Name); v.ReadOnly = true; v.SemiSyncSourceOn = false; return v }(), replicaOf(re.Name, pr)},
			},
			actions: append([]string{"open-writer web-db-primary"}, healthy...),
			check: func(t *testing.T, m Memory) {
				if m.Writer != pr.Name || m.Lost != "" {
					t.Errorf("remembered writer %q lost %q", m.Writer, m.Lost)
				}
			},
		},
		{
			name: "kill -9 of the writer's server: its container restarts, so its name resolves again at once; a gone probe between is not enough",
			steps: []step{
				{500 * time.Millisecond, down(pr.Name, Gone), replicaOf(re.Name, pr)},
				{1 * time.Second, down(pr.Name, Refused), replicaOf(re.Name, pr)},
				{2 * time.Second, down(pr.Name, Refused), replicaOf(re.Name, pr)},
			},
			actions: []string{},
			reason:  "web-db-primary unreachable (refused)",
		},
		{
			name:    "the writer's container gone (its name does not resolve) for goneAfterSeconds: promoted without waiting afterSeconds",
			steps:   []step{{500 * time.Millisecond, down(pr.Name, Gone), replicaOf(re.Name, pr)}, {1500 * time.Millisecond, down(pr.Name, Gone), replicaOf(re.Name, pr)}},
			actions: append([]string{"route-writer nowhere"}, promote...),
			reason:  "failover: web-db-primary gone (its name does not resolve) for 1s; promoting web-db-replica",
		},
		{
			name: "no promotion when semi-sync was degraded when the writer was lost",
			memory: func(p Policy) Memory {
				m := seen(p, t0)
				w := writer(pr.Name)
				w.SemiSyncSourceOn = false
				return Decide(p, m, Observation{Now: t0.Add(time.Second), Writer: w, Other: replicaOf(re.Name, pr)}).Memory
			},
			steps:   []step{{10 * time.Second, down(pr.Name, TimedOut), replicaOf(re.Name, pr)}},
			actions: []string{},
			reason:  "not promoting web-db-replica: when last seen, semi-sync was off on web-db-primary",
			refusal: RefusedSemiSyncOff,
		},
		{
			name: "no promotion of a container-gone writer either when semi-sync was degraded",
			memory: func(p Policy) Memory {
				w := writer(pr.Name)
				w.SemiSyncSourceOn = false
				return Decide(p, seen(p, t0), Observation{Now: t0, Writer: w, Other: replicaOf(re.Name, pr)}).Memory
			},
			steps:   []step{{time.Second, down(pr.Name, Gone), replicaOf(re.Name, pr)}, {3 * time.Second, down(pr.Name, Gone), replicaOf(re.Name, pr)}},
			actions: []string{"route-writer nowhere"},
			reason:  "when last seen, semi-sync was off on web-db-primary",
			refusal: RefusedSemiSyncOff,
		},
		{
			name: "no promotion when the other node did not replicate from the writer when last seen",
			memory: func(p Policy) Memory {
				n := replicaOf(re.Name, pr)
				n.Replica = nil
				return Decide(p, InitialMemory(p, pr.Name, p.Wanted, ""), Observation{Now: t0, Writer: writer(pr.Name), Other: n}).Memory
			},
			steps:   []step{{6 * time.Second, down(pr.Name, Refused), replicaOf(re.Name, pr)}},
			actions: []string{},
			reason:  "when last seen, web-db-replica did not replicate from web-db-primary",
			refusal: RefusedNotReplicating,
		},
		{
			name:    "no promotion when the other node is unreachable too",
			steps:   []step{{6 * time.Second, down(pr.Name, TimedOut), down(re.Name, TimedOut)}},
			actions: []string{},
			reason:  "not promoting web-db-replica: it is unreachable too",
			refusal: RefusedOtherDown,
		},
		{
			name:    "no promotion by an agent that never saw the writer alive",
			memory:  func(p Policy) Memory { return InitialMemory(p, pr.Name, p.Wanted, "") },
			steps:   []step{{0, down(pr.Name, Gone), replicaOf(re.Name, pr)}, {10 * time.Second, down(pr.Name, Gone), replicaOf(re.Name, pr)}},
			actions: []string{"route-writer nowhere"},
			reason:  "when last seen, nothing was seen yet",
			refusal: RefusedNothingSeen,
		},
		{
			name:    "automatic failover off: the writer lost for good is waited for",
			policy:  func(p Policy) Policy { p.Automatic = false; return p },
			steps:   []step{{60 * time.Second, down(pr.Name, Gone), replicaOf(re.Name, pr)}},
			actions: []string{"route-writer nowhere"},
			reason:  "web-db-primary unreachable (gone)",
		},

		// After a failover.
		{
			name: "no flapping: after a failover the old writer returns as a replica and the writer stays",
			memory: func(p Policy) Memory {
				m := seen(p, t0)
				return Decide(p, m, Observation{Now: t0.Add(5 * time.Second), Writer: down(pr.Name, TimedOut), Other: replicaOf(re.Name, pr)}).Memory
			},
			steps: []step{{8 * time.Second, func() NodeView {
				v := writer(re.Name)
				v.ReadOnly = true
				v.Replica = replicaOf("", pr).Replica
				return v
			}(), func() NodeView {
				v := writer(pr.Name)
				v.ReadOnly = true
				return v
			}()}},
			actions: []string{"open-writer web-db-replica", "route-writer web-db-replica", "point-at web-db-primary from web-db-replica", "route-reader web-db-replica"},
		},
		{
			name: "the old writer rejoined and received for 30 s: it is no longer the node a rebuild may be done to",
			memory: func(p Policy) Memory {
				m := InitialMemory(p, re.Name, p.Wanted, pr.Name)
				return m
			},
			steps: []step{
				{time.Second, writer(re.Name), replicaOf(pr.Name, re)},
				{31 * time.Second, writer(re.Name), replicaOf(pr.Name, re)},
			},
			actions: []string{"route-writer web-db-replica", "forget-lost web-db-primary", "route-reader web-db-primary"},
			check: func(t *testing.T, m Memory) {
				if m.Lost != "" {
					t.Errorf("lost %q", m.Lost)
				}
			},
		},
		{
			name:   "the agent restarted mid-failover goes on from its state file: the new writer is opened",
			memory: func(p Policy) Memory { return InitialMemory(p, re.Name, p.Wanted, pr.Name) },
			steps: []step{{0, func() NodeView {
				v := writer(re.Name)
				v.ReadOnly = true
				v.Replica = replicaOf("", pr).Replica
				return v
			}(), down(pr.Name, Gone)}},
			actions: []string{"open-writer web-db-replica", "route-writer web-db-replica", "route-reader web-db-replica"},
		},
		{
			name:   "the manual procedure: a survivor written into the state file is opened and routed",
			policy: func(p Policy) Policy { p.Automatic = false; return p },
			memory: func(p Policy) Memory { return InitialMemory(p, re.Name, p.Wanted, "") },
			steps: []step{{0, func() NodeView {
				v := writer(re.Name)
				v.ReadOnly = true
				v.Replica = replicaOf("", pr).Replica
				v.Replica.IORunning = "Connecting"
				return v
			}(), down(pr.Name, Gone)}},
			actions: []string{"open-writer web-db-replica", "route-writer web-db-replica", "route-reader web-db-replica"},
		},
		{
			name:    "a state file naming no node falls back to the wanted writer",
			memory:  func(p Policy) Memory { return InitialMemory(p, "garbage", "", "") },
			steps:   []step{{0, writer(pr.Name), replicaOf(re.Name, pr)}},
			actions: healthy,
		},

		// Planned switchover.
		{
			name:    "a changed wanted writer with the other node a connected semi-sync replica: switchover",
			memory:  func(p Policy) Memory { m := seen(p, t0); m.Wanted = pr.Name; return m },
			policy:  func(p Policy) Policy { p.Wanted = re.Name; return p },
			steps:   []step{{time.Second, writer(pr.Name), replicaOf(re.Name, pr)}},
			actions: append(healthy, "switchover web-db-replica from web-db-primary"),
			reason:  "switchover to web-db-replica: the wanted writer changed",
		},
		{
			name:    "a switchover waits until the other node is a connected semi-sync replica",
			policy:  func(p Policy) Policy { p.Wanted = re.Name; return p },
			memory:  func(p Policy) Memory { return InitialMemory(p, pr.Name, pr.Name, "") },
			steps:   []step{{time.Second, func() NodeView { v := writer(pr.Name); v.SemiSyncSourceOn = false; return v }(), replicaOf(re.Name, pr)}},
			actions: healthy,
			reason:  "switchover to web-db-replica waits until it replicates semi-synchronously from web-db-primary",
		},
		{
			name:   "a switchover that did not finish is not retried before its time",
			policy: func(p Policy) Policy { p.Wanted = re.Name; return p },
			memory: func(p Policy) Memory {
				m := InitialMemory(p, pr.Name, pr.Name, "")
				m.RetrySwitchoverAt = t0.Add(30 * time.Second)
				return m
			},
			steps:   []step{{time.Second, writer(pr.Name), replicaOf(re.Name, pr)}},
			actions: healthy,
			reason:  "switchover to web-db-replica did not finish; tried again at 2026-12-02T10:00:30Z",
		},
		{
			name:    "after a failover the prop set to where the writer is: remembered, nothing moves",
			policy:  func(p Policy) Policy { p.Wanted = re.Name; return p },
			memory:  func(p Policy) Memory { return InitialMemory(p, re.Name, pr.Name, "") },
			steps:   []step{{0, writer(re.Name), replicaOf(pr.Name, re)}},
			actions: []string{"route-writer web-db-replica", "route-reader web-db-primary", "remember-wanted web-db-replica"},
		},
		{
			name:    "without semi-sync (automatic off), a switchover waits until the other node receives",
			policy:  func(p Policy) Policy { p.Wanted, p.SemiSync, p.Automatic = re.Name, false, false; return p },
			memory:  func(p Policy) Memory { return InitialMemory(p, pr.Name, pr.Name, "") },
			steps:   []step{{0, writer(pr.Name), func() NodeView { v := replicaOf(re.Name, pr); v.Replica.IORunning = "Connecting"; return v }()}},
			actions: []string{"route-writer web-db-primary", "route-reader web-db-primary"},
			reason:  "switchover to web-db-replica waits until it receives from web-db-primary",
		},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) { runCase(t, c) })
	}
}

// Divergence: the engines show it differently (MySQL: GTID_SUBSET on the writer; MariaDB: the
// writer refuses the node's position with error 1236), the decision is the same.
func TestDivergence(t *testing.T) {
	no := false
	evidence := map[string]NodeView{
		"mysql": func() NodeView {
			v := writer(pr.Name)
			v.ReadOnly = true
			v.GTIDSubsetOfWriter = &no
			return v
		}(),
		"mariadb": func() NodeView {
			v := replicaOf(pr.Name, re)
			v.Replica.IORunning, v.Replica.LastIOErrno = "No", 1236
			return v
		}(),
	}
	for engine, returning := range evidence {
		stop := []string{}
		if engine == "mariadb" {
			stop = []string{"stop-replication web-db-primary"}
		}
		t.Run(engine+": a diverged old writer (the node failed over from) is rebuilt from the writer", func(t *testing.T) {
			runCase(t, coreCase{
				memory:  func(p Policy) Memory { return InitialMemory(p, re.Name, pr.Name, pr.Name) },
				steps:   []step{{0, writer(re.Name), returning}},
				actions: append(append([]string{"route-writer web-db-replica"}, stop...), "rebuild web-db-primary from web-db-replica", "route-reader web-db-replica"),
				reason:  "rebuilding web-db-primary from web-db-replica: its extra transactions were never acknowledged",
			})
		})
		t.Run(engine+": any other divergence is left read-only and out of the routes, and the log says so", func(t *testing.T) {
			runCase(t, coreCase{
				memory:  func(p Policy) Memory { return InitialMemory(p, re.Name, pr.Name, "") },
				steps:   []step{{0, writer(re.Name), returning}},
				actions: append(append([]string{"route-writer web-db-replica"}, stop...), "route-reader web-db-replica"),
				reason:  "web-db-primary has transactions web-db-replica does not have: left out, read-only (rebuild it from web-db-replica by hand)",
			})
		})
	}
	t.Run("mysql: a returning node whose GTIDs are a subset of the writer's is pointed at it", func(t *testing.T) {
		yes := true
		v := writer(pr.Name)
		v.ReadOnly, v.GTIDSubsetOfWriter = true, &yes
		runCase(t, coreCase{
			memory:  func(p Policy) Memory { return InitialMemory(p, re.Name, pr.Name, pr.Name) },
			steps:   []step{{0, writer(re.Name), v}},
			actions: []string{"route-writer web-db-replica", "point-at web-db-primary from web-db-replica", "route-reader web-db-replica"},
		})
	})
}

func TestSwitchoverAfterCatchUp(t *testing.T) {
	acts, reason := SwitchoverAfterCatchUp(pr.Name, re.Name, false, 30*time.Second)
	if got := kinds(acts); !reflect.DeepEqual(got, []string{"open-writer web-db-primary", "route-writer web-db-primary"}) {
		t.Errorf("catch-up timeout: %q", got)
	}
	if reason != "switchover: web-db-replica did not catch up with web-db-primary within 30s; web-db-primary stays the writer" {
		t.Errorf("reason %q", reason)
	}
	acts, reason = SwitchoverAfterCatchUp(pr.Name, re.Name, true, 30*time.Second)
	if got := kinds(acts); !reflect.DeepEqual(got, []string{"open-writer web-db-replica", "route-writer web-db-replica"}) {
		t.Errorf("caught up: %q", got)
	}
	if reason != "switchover: web-db-replica is the writer (was web-db-primary)" {
		t.Errorf("reason %q", reason)
	}
}

// A test that can fail: the core must notice a difference in what it is shown.
func TestDecideIsNotConstant(t *testing.T) {
	p := policy()
	m := seen(p, t0)
	a := Decide(p, m, Observation{Now: t0.Add(6 * time.Second), Writer: down(pr.Name, TimedOut), Other: replicaOf(re.Name, pr)})
	b := Decide(p, m, Observation{Now: t0.Add(6 * time.Second), Writer: writer(pr.Name), Other: replicaOf(re.Name, pr)})
	if reflect.DeepEqual(a.Actions(), b.Actions()) {
		t.Fatalf("same actions for a lost and a healthy writer: %q", kinds(a.Actions()))
	}
}
