package main

import (
	"fmt"
	"time"
)

// The decision core: what the agent saw of both nodes and what it remembers go in, the actions to
// take and why come out. No I/O here: everything below is table-tested (core_test.go).

// Failure says how a node failed to answer.
type Failure int

const (
	Answered Failure = iota
	// Gone: its name does not resolve. On a Docker network the embedded DNS knows every running
	// container, so the container is not running and cannot take a write from anyone.
	Gone
	// Refused: the name resolves but nothing listens (the server is starting or restarting).
	Refused
	// TimedOut: connected or connecting, but no answer within the probe's bound (hung or slow).
	TimedOut
	// OtherError: any other client error (access denied, a TLS failure, ...).
	OtherError
)

func (f Failure) String() string {
	return [...]string{"answered", "gone", "refused", "timed out", "error"}[f]
}

// ReplicaStatus is the part of SHOW REPLICA STATUS the agent reads.
type ReplicaStatus struct {
	SourceHost  string
	SourcePort  int
	IORunning   string // Yes, No or Connecting
	SQLRunning  string // Yes or No
	SQLState    string // Replica_SQL_Running_State
	LastIOErrno int
}

// NodeView is one node as one probe saw it.
type NodeView struct {
	Name    string
	Failure Failure
	// AnswersPing: the state query failed but a plain SELECT 1 answered (a busy node, not a dead one).
	AnswersPing bool
	ReadOnly    bool
	// SemiSyncSourceOn: semi-sync source status ON with at least one semi-sync replica connected.
	SemiSyncSourceOn bool
	// SemiSyncSourceEnabled / SemiSyncReplicaEnabled: the node's semi-sync roles (plugin switches).
	SemiSyncSourceEnabled  bool
	SemiSyncReplicaEnabled bool
	GTIDs                  string
	// Replica: nil when the node replicates from nobody; ReplicaKnown false when it was not read.
	Replica      *ReplicaStatus
	ReplicaKnown bool
	// GTIDSubsetOfWriter: MySQL only, asked of the writer when this node does not replicate from it.
	GTIDSubsetOfWriter *bool
	// StuckDumps: replication connections on this node killed 5 s ago or more and still there.
	StuckDumps int
}

func (n NodeView) reached() bool { return n.Failure == Answered }

// Node is one database node of the agent's configuration.
type Node struct {
	Name string `json:"name"`
	Host string `json:"host"`
	Port int    `json:"port"`
}

// Policy is the part of the configuration the decisions depend on.
type Policy struct {
	Nodes  [2]Node
	Wanted string
	// Automatic: promote the other node by itself when the writer is lost.
	Automatic bool
	SemiSync  bool
	// FailoverAfter: how long an unreachable writer (refused, timed out) is waited for: a server
	// that restarts comes back within it and is opened again.
	FailoverAfter time.Duration
	// GoneAfter: how long a writer whose container is gone (its name does not resolve) is waited for.
	GoneAfter time.Duration
	// RejoinedAfter: how long a former writer must receive from the writer before it is no longer
	// the node a rebuild may be done to.
	RejoinedAfter time.Duration
}

func (p Policy) other(name string) Node {
	if p.Nodes[0].Name == name {
		return p.Nodes[1]
	}
	return p.Nodes[0]
}

func (p Policy) node(name string) Node {
	if p.Nodes[0].Name == name {
		return p.Nodes[0]
	}
	return p.Nodes[1]
}

// Memory is what the agent remembers between probes. Writer, Wanted and Lost are kept in files on
// the agent's volume (a restarted agent goes on from them); the rest lives in the process.
type Memory struct {
	// Writer: the node that takes writes (file "state").
	Writer string
	// Wanted: the wanted writer the last switchover was done for (file "wanted"); a change of the
	// configured wanted writer is a planned switchover, once.
	Wanted string
	// Lost: the node the last failover was from (file "lost"); only it may be rebuilt.
	Lost string

	LastWriterSeen time.Time
	GoneSince      time.Time
	// Safe: when the writer was last seen, the other node had every acknowledged write.
	Safe   bool
	Unsafe string
	// What the other node's replication looked like when last read.
	OtherSource    string
	OtherReceiving bool
	ReceivingSince time.Time
	// RetrySwitchoverAt: a switchover that did not finish is tried again from then on.
	RetrySwitchoverAt time.Time
	// ReceiverStopped: the node whose receiver the agent stopped ahead of a failover (file
	// "receiver-stopped"); started again if the writer comes back instead.
	ReceiverStopped string
}

// Kind of action. The executor runs a decision's groups in order; inside a group it stops at the
// first action that fails.
type Kind string

const (
	OpenWriter      Kind = "open-writer"       // finish replication, semi-sync source, writable
	Fence           Kind = "fence"             // read-only
	SemiSyncReplica Kind = "semi-sync-replica" // semi-sync replica role, reconnect its receiver
	PointAt         Kind = "point-at"          // replicate from Source
	StopReplication Kind = "stop-replication"
	StopReceiver    Kind = "stop-receiver"  // stop receiving (ahead of a failover); what it has stays and is applied
	StartReceiver   Kind = "start-receiver" // receive from its source again
	Rebuild         Kind = "rebuild"        // replace its databases by a dump of Source, then PointAt
	RouteWriter     Kind = "route-writer"   // Node "" routes writes nowhere
	RouteReader     Kind = "route-reader"
	UnstickDumps    Kind = "unstick-dumps"
	Switchover      Kind = "switchover" // to Node, from Source
	Failover        Kind = "failover"
	RememberWanted  Kind = "remember-wanted"
	ForgetLost      Kind = "forget-lost"
)

// Action is one thing to do to one node.
type Action struct {
	Kind Kind
	Node string
	// Source: the node to replicate from (PointAt, Rebuild), or the node moved from (Switchover, Failover).
	Source string
}

func (a Action) String() string {
	if a.Node == "" {
		return string(a.Kind) + " nowhere"
	}
	if a.Source != "" {
		return fmt.Sprintf("%s %s from %s", a.Kind, a.Node, a.Source)
	}
	return fmt.Sprintf("%s %s", a.Kind, a.Node)
}

// Refusal names why a failover was not done, as a metric label.
type Refusal string

const (
	NoRefusal             Refusal = ""
	RefusedSemiSyncOff    Refusal = "semi_sync_off"
	RefusedNotReplicating Refusal = "not_replicating"
	RefusedNotReceiving   Refusal = "not_receiving"
	RefusedOtherDown      Refusal = "other_unreachable"
	RefusedNothingSeen    Refusal = "nothing_seen"
)

// Decision is what one probe leads to.
type Decision struct {
	Groups [][]Action
	// Reason: why, in words, for the log (said once while it stays the same).
	Reason  string
	Refusal Refusal
	Memory  Memory
}

// Actions flattens the groups, for tests and logs.
func (d Decision) Actions() []Action {
	var all []Action
	for _, g := range d.Groups {
		all = append(all, g...)
	}
	return all
}

// Observation is one probe of both nodes.
type Observation struct {
	Now    time.Time
	Writer NodeView // the remembered writer
	Other  NodeView
}

// Decide is one step of the agent.
func Decide(p Policy, m Memory, o Observation) Decision {
	if o.Writer.reached() {
		return writerAnswered(p, m, o)
	}
	return writerUnreachable(p, m, o)
}

func writerAnswered(p Policy, m Memory, o Observation) Decision {
	w, n := o.Writer, o.Other
	m.LastWriterSeen = o.Now
	m.GoneSince = time.Time{}
	d := Decision{}

	// The writer: writable, replicating from nobody, semi-sync source; then routed.
	var open []Action
	if w.ReadOnly || w.Replica != nil || (p.SemiSync && !(w.SemiSyncSourceEnabled && !w.SemiSyncReplicaEnabled)) {
		open = append(open, Action{Kind: OpenWriter, Node: w.Name})
	}
	open = append(open, Action{Kind: RouteWriter, Node: w.Name})
	d.Groups = append(d.Groups, open)

	follow, reason := followWriter(p, &m, o)
	if len(follow) > 0 {
		d.Groups = append(d.Groups, follow)
	}
	d.Reason = reason

	if p.SemiSync && !w.SemiSyncSourceOn && w.StuckDumps > 0 {
		d.Groups = append(d.Groups, []Action{{Kind: UnstickDumps, Node: w.Name}})
	}

	// Reads: the replica while both its threads run from the writer, else the writer.
	reader := w.Name
	if n.reached() && n.ReplicaKnown && n.Replica != nil && replicatesFrom(p, n.Replica, w.Name) && n.Replica.IORunning == "Yes" && n.Replica.SQLRunning == "Yes" {
		reader = n.Name
	}
	d.Groups = append(d.Groups, []Action{{Kind: RouteReader, Node: reader}})

	// The verdict rests on what the writer said while alive (this probe): semi-sync ON means a
	// replica was connected and acknowledging. The other node's own view may already show the
	// writer's death, so only its configured source counts, as last read.
	if n.reached() && n.ReplicaKnown {
		m.OtherSource, m.OtherReceiving = "", false
		if n.Replica != nil && replicatesFrom(p, n.Replica, w.Name) {
			m.OtherSource = w.Name
			m.OtherReceiving = n.Replica.IORunning == "Yes"
		}
	}
	switch {
	case m.OtherSource != w.Name:
		m.Safe, m.Unsafe = false, fmt.Sprintf("%s did not replicate from %s", n.Name, w.Name)
	case p.SemiSync && !w.SemiSyncSourceOn:
		m.Safe, m.Unsafe = false, fmt.Sprintf("semi-sync was off on %s", w.Name)
	case !p.SemiSync && !m.OtherReceiving:
		m.Safe, m.Unsafe = false, fmt.Sprintf("%s was not receiving from %s", n.Name, w.Name)
	default:
		m.Safe, m.Unsafe = true, ""
	}

	// A changed wanted writer (the prop, on deploy) is a planned switchover, once.
	if m.Wanted != p.Wanted {
		switch {
		case p.Wanted == w.Name:
			d.Groups = append(d.Groups, []Action{{Kind: RememberWanted, Node: p.Wanted}})
		case o.Now.Before(m.RetrySwitchoverAt):
			d.Reason = fmt.Sprintf("switchover to %s did not finish; tried again at %s", p.Wanted, m.RetrySwitchoverAt.UTC().Format(time.RFC3339))
		case m.Safe && n.reached():
			// The executor remembers the wanted writer once the switchover is done.
			d.Groups = append(d.Groups, []Action{{Kind: Switchover, Node: n.Name, Source: w.Name}})
			d.Reason = fmt.Sprintf("switchover to %s: the wanted writer changed", n.Name)
		default:
			d.Reason = fmt.Sprintf("switchover to %s waits until it replicates semi-synchronously from %s", p.Wanted, w.Name)
			if !p.SemiSync {
				d.Reason = fmt.Sprintf("switchover to %s waits until it receives from %s", p.Wanted, w.Name)
			}
		}
	}
	d.Memory = m
	return d
}

// followWriter keeps the other node read-only and a (semi-sync) replica of the writer.
func followWriter(p Policy, m *Memory, o Observation) ([]Action, string) {
	w, n := o.Writer, o.Other
	if !n.reached() {
		m.ReceivingSince = time.Time{}
		return nil, ""
	}
	var acts []Action
	if !n.ReadOnly {
		acts = append(acts, Action{Kind: Fence, Node: n.Name})
	}
	if !n.ReplicaKnown {
		return acts, ""
	}
	if n.Replica != nil && replicatesFrom(p, n.Replica, w.Name) {
		if n.Replica.LastIOErrno == 1236 {
			// The writer refused its position: it has transactions the writer lacks.
			acts = append(acts, Action{Kind: StopReplication, Node: n.Name})
			return diverged(p, m, n.Name, w.Name, acts)
		}
		// A node restarted as a replica comes back with the semi-sync roles of its option file; a
		// replica registers as semi-sync when its receiver (re)connects.
		if p.SemiSync && !(n.SemiSyncReplicaEnabled && !n.SemiSyncSourceEnabled) {
			acts = append(acts, Action{Kind: SemiSyncReplica, Node: n.Name})
		}
		// Stopped by the agent ahead of a failover that did not happen (the writer came back): it
		// receives again. A receiver stopped by anyone else is theirs.
		if m.ReceiverStopped == n.Name {
			if n.Replica.IORunning == "No" {
				acts = append(acts, Action{Kind: StartReceiver, Node: n.Name})
			} else {
				m.ReceiverStopped = ""
			}
		}
		// Receiving for RejoinedAfter: a former writer rejoined with nothing to discard (a diverged
		// node is refused as soon as its receiver asks for its position, within a second).
		switch {
		case n.Replica.IORunning != "Yes":
			m.ReceivingSince = time.Time{}
		case m.ReceivingSince.IsZero():
			m.ReceivingSince = o.Now
		case o.Now.Sub(m.ReceivingSince) >= p.RejoinedAfter && m.Lost == n.Name:
			acts = append(acts, Action{Kind: ForgetLost, Node: n.Name})
			m.Lost = ""
		}
		return acts, ""
	}
	m.ReceivingSince = time.Time{}
	if n.GTIDSubsetOfWriter != nil && !*n.GTIDSubsetOfWriter {
		return diverged(p, m, n.Name, w.Name, acts)
	}
	acts = append(acts, Action{Kind: PointAt, Node: n.Name, Source: w.Name})
	return acts, ""
}

// A node lost as the writer may come back with transactions the new writer lacks: ones in its
// binary log that no replica acknowledged (AFTER_SYNC), so no client saw them commit. That node
// alone is rebuilt from the writer; any other divergence waits for a person.
func diverged(p Policy, m *Memory, node, writer string, acts []Action) ([]Action, string) {
	if m.Lost != node {
		return acts, fmt.Sprintf("%s has transactions %s does not have: left out, read-only (rebuild it from %s by hand)", node, writer, writer)
	}
	acts = append(acts, Action{Kind: Rebuild, Node: node, Source: writer})
	return acts, fmt.Sprintf("rebuilding %s from %s: its extra transactions were never acknowledged", node, writer)
}

func replicatesFrom(p Policy, r *ReplicaStatus, writer string) bool {
	w := p.node(writer)
	return r.SourceHost == w.Host && (r.SourcePort == 0 || r.SourcePort == w.Port)
}

func writerUnreachable(p Policy, m Memory, o Observation) Decision {
	w, n := o.Writer, o.Other
	d := Decision{}
	if w.Failure == TimedOut && w.AnswersPing {
		// Connected but slow to report its state, and answers: not down, nothing is decided on it.
		m.LastWriterSeen = o.Now
		m.GoneSince = time.Time{}
		d.Reason = fmt.Sprintf("%s answers but did not report its state in time", w.Name)
		d.Memory = m
		return d
	}
	if w.Failure == Gone {
		if m.GoneSince.IsZero() {
			m.GoneSince = o.Now
		}
	} else {
		m.GoneSince = time.Time{}
	}
	if m.LastWriterSeen.IsZero() {
		// Never seen since the agent started: count from now.
		m.LastWriterSeen = o.Now
	}
	down := o.Now.Sub(m.LastWriterSeen)
	gone := time.Duration(0)
	if !m.GoneSince.IsZero() {
		gone = o.Now.Sub(m.GoneSince)
	}
	d.Reason = fmt.Sprintf("%s unreachable (%s)", w.Name, w.Failure)
	// A gone writer (its container is not running) takes no write: out of the route at once, so
	// clients fail fast instead of waiting out a connect to an address nobody has. It is routed
	// again when it answers.
	if w.Failure == Gone {
		d.Groups = append(d.Groups, []Action{{Kind: RouteWriter, Node: ""}})
	}
	// Reads go to the other node only while it replicates.
	if !p.Automatic {
		d.Memory = m
		return d
	}
	// Its container is gone and the replica lost it too: nothing more can come from it, so stop
	// the replica's receiver now. A promotion then does not wait for it to give up a reconnect
	// (a lookup of a vanished name waits out the resolver's timeout: about 2 s on MariaDB).
	if w.Failure == Gone && m.Safe && n.reached() && n.ReplicaKnown && n.Replica != nil && replicatesFrom(p, n.Replica, w.Name) && n.Replica.IORunning == "Connecting" {
		d.Groups = append(d.Groups, []Action{{Kind: StopReceiver, Node: n.Name}})
		d.Reason += fmt.Sprintf("; %s lost it too: its receiver stopped ahead of a failover", n.Name)
		m.ReceiverStopped = n.Name
	}
	due := down >= p.FailoverAfter || (w.Failure == Gone && gone >= p.GoneAfter)
	if !due {
		d.Memory = m
		return d
	}
	why := fmt.Sprintf("unreachable for %s", round(down))
	if w.Failure == Gone && down < p.FailoverAfter {
		why = fmt.Sprintf("gone (its name does not resolve) for %s", round(gone))
	}
	switch {
	case !m.Safe:
		d.Reason = fmt.Sprintf("%s %s; not promoting %s: when last seen, %s", w.Name, why, n.Name, orNothingSeen(m.Unsafe))
		d.Refusal = refusalOf(p, m, w.Name)
	case !n.reached():
		d.Reason = fmt.Sprintf("%s %s; not promoting %s: it is unreachable too", w.Name, why, n.Name)
		d.Refusal = RefusedOtherDown
	default:
		d.Groups = append(d.Groups, []Action{{Kind: Failover, Node: n.Name, Source: w.Name}, {Kind: RememberWanted, Node: p.Wanted}})
		d.Reason = fmt.Sprintf("failover: %s %s; promoting %s", w.Name, why, n.Name)
		m.Lost = w.Name
		m.Writer = n.Name
		m.Wanted = p.Wanted
		m.Safe, m.Unsafe = false, "nothing was seen yet"
		m.LastWriterSeen, m.GoneSince, m.ReceivingSince = o.Now, time.Time{}, time.Time{}
		m.OtherSource, m.OtherReceiving = "", false
		m.ReceiverStopped = ""
	}
	d.Memory = m
	return d
}

func orNothingSeen(s string) string {
	if s == "" {
		return "nothing was seen yet"
	}
	return s
}

func refusalOf(p Policy, m Memory, writer string) Refusal {
	switch {
	case m.Unsafe == "" || m.Unsafe == "nothing was seen yet":
		return RefusedNothingSeen
	case m.OtherSource != writer:
		return RefusedNotReplicating
	case p.SemiSync:
		return RefusedSemiSyncOff
	default:
		return RefusedNotReceiving
	}
}

func round(d time.Duration) string { return d.Round(100 * time.Millisecond).String() }

// SwitchoverAfterCatchUp decides the end of a planned switchover, once the old writer is fenced
// and the new one was given catchUp to execute everything the old one had.
func SwitchoverAfterCatchUp(from, to string, caughtUp bool, catchUp time.Duration) ([]Action, string) {
	if !caughtUp {
		return []Action{{Kind: OpenWriter, Node: from}, {Kind: RouteWriter, Node: from}},
			fmt.Sprintf("switchover: %s did not catch up with %s within %s; %s stays the writer", to, from, catchUp, from)
	}
	return []Action{{Kind: OpenWriter, Node: to}, {Kind: RouteWriter, Node: to}},
		fmt.Sprintf("switchover: %s is the writer (was %s)", to, from)
}

// InitialMemory is what a starting agent knows: the files it kept, or the wanted writer.
func InitialMemory(p Policy, writer, wanted, lost string) Memory {
	m := Memory{Writer: writer, Wanted: wanted, Lost: lost, Unsafe: "nothing was seen yet"}
	if m.Writer != p.Nodes[0].Name && m.Writer != p.Nodes[1].Name {
		m.Writer = p.Wanted
	}
	if m.Wanted == "" {
		m.Wanted = p.Wanted
	}
	if m.Lost != p.Nodes[0].Name && m.Lost != p.Nodes[1].Name {
		m.Lost = ""
	}
	return m
}
