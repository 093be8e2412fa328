package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"
)

// Agent does the I/O around the decision core: probes both nodes, runs what Decide returns, keeps
// the route and memory files, writes the heartbeat.
type Agent struct {
	cfg      Config
	policy   Policy
	d        Dialect
	sql      Client
	routes   Routes
	log      *Logger
	metrics  *Metrics
	replPass string
	probe    time.Duration
	resolver Resolver
	mu       sync.Mutex // guards memory (the heartbeat reads the writer)
	memory   Memory
	now      func() time.Time
}

// NewAgent reads the secrets, writes the client's option file and the initial memory files.
func NewAgent(cfg Config, log *Logger) (*Agent, error) {
	d, err := DialectFor(cfg.Engine)
	if err != nil {
		return nil, err
	}
	agentPass, err := Secret(cfg.SecretsDir, "failover-password")
	if err != nil {
		return nil, err
	}
	replPass, err := Secret(cfg.SecretsDir, "replication-password")
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(cfg.WorkDir, 0o700); err != nil {
		return nil, err
	}
	option := filepath.Join(cfg.WorkDir, "client.cnf")
	if err := WriteOptionFile(option, cfg.AgentUser, agentPass, d.ClientTLSOptions(cfg.TLS)); err != nil {
		return nil, err
	}
	program := d.Client
	if cfg.Client != "" {
		program = cfg.Client
	}
	if cfg.Dump != "" {
		d.Dump = cfg.Dump
	}
	a := &Agent{
		cfg: cfg, policy: cfg.Policy(), d: d, sql: Client{Program: program, OptionFile: option},
		routes: Routes{Dir: cfg.RouteDir}, log: log, metrics: NewMetrics(cfg.Nodes, cfg.WantedWriter),
		replPass: replPass, probe: time.Duration(cfg.ProbeTimeoutMs) * time.Millisecond, now: time.Now,
		resolver: Resolver{Timeout: time.Duration(cfg.LookupTimeoutMs) * time.Millisecond},
	}
	a.memory = InitialMemory(a.policy, a.routes.Read("state"), a.routes.Read("wanted"), a.routes.Read("lost"))
	if s := a.routes.Read("receiver-stopped"); s == cfg.Nodes[0].Name || s == cfg.Nodes[1].Name {
		a.memory.ReceiverStopped = s
	}
	if err := a.routes.Write("state", a.memory.Writer, true); err != nil {
		return nil, err
	}
	if err := a.routes.Write("wanted", a.memory.Wanted, true); err != nil {
		return nil, err
	}
	a.metrics.update(func(m *Metrics) { m.writer = a.memory.Writer })
	return a, nil
}

func (a *Agent) node(name string) Node { return a.policy.node(name) }

// view probes one node: its state, and its replication unless it failed.
func (a *Agent) view(ctx context.Context, n Node) NodeView {
	v := NodeView{Name: n.Name}
	if !a.resolver.Resolves(ctx, n.Host) {
		v.Failure = Gone
		return v
	}
	row, err := a.sql.Run(ctx, n, a.probe, a.d.StateQuery(a.policy.SemiSync))
	if err != nil {
		v.Failure = FailureOf(err)
		if v.Failure == TimedOut {
			_, perr := a.sql.Run(ctx, n, a.probe, "SELECT 1")
			v.AnswersPing = perr == nil
		}
		return v
	}
	if err := a.d.ParseState(row, &v); err != nil {
		v.Failure = OtherError
		return v
	}
	if out, err := a.sql.Vertical(ctx, n, a.probe, "SHOW REPLICA STATUS"); err == nil {
		v.Replica, v.ReplicaKnown = a.d.ParseReplicaStatus(out), true
	}
	return v
}

// Observe probes both nodes at once.
func (a *Agent) Observe(ctx context.Context, m Memory) Observation {
	w, n := a.node(m.Writer), a.policy.other(m.Writer)
	var wv, nv NodeView
	var wg sync.WaitGroup
	wg.Add(2)
	go func() { defer wg.Done(); wv = a.view(ctx, w) }()
	go func() { defer wg.Done(); nv = a.view(ctx, n) }()
	wg.Wait()
	if wv.reached() && a.policy.SemiSync && !wv.SemiSyncSourceOn {
		if out, err := a.sql.Run(ctx, w, a.probe, a.d.StuckDumps(a.cfg.ReplicationUser)); err == nil {
			fmt.Sscan(strings.TrimSpace(out), &wv.StuckDumps)
		}
	}
	// MySQL: a node that replicates from elsewhere rejoins only if its GTIDs are the writer's.
	if wv.reached() && nv.reached() && nv.ReplicaKnown && (nv.Replica == nil || !replicatesFrom(a.policy, nv.Replica, w.Name)) {
		if q, ok := a.d.GTIDSubset(nv.GTIDs); ok {
			if out, err := a.sql.Run(ctx, w, a.probe, q); err == nil {
				subset := strings.TrimSpace(out) == "1"
				nv.GTIDSubsetOfWriter = &subset
			}
		}
	}
	return Observation{Now: a.now(), Writer: wv, Other: nv}
}

// Step is one probe and what follows from it.
func (a *Agent) Step(ctx context.Context) {
	a.mu.Lock()
	m := a.memory
	a.mu.Unlock()
	o := a.Observe(ctx, m)
	d := Decide(a.policy, m, o)
	event := "decision"
	if d.Refusal != NoRefusal {
		event = "refusal"
		a.metrics.update(func(mt *Metrics) { mt.refusals[d.Refusal]++ })
	}
	fields := map[string]any{"writer": m.Writer, "writerProbe": o.Writer.Failure.String(), "otherProbe": o.Other.Failure.String()}
	if d.Refusal != NoRefusal {
		fields["refusal"] = string(d.Refusal)
	}
	a.log.Say(event, d.Reason, fields)
	a.setMemory(d.Memory)
	a.metrics.update(func(mt *Metrics) {
		mt.writerReachable = o.Writer.reached() || o.Writer.AnswersPing
		mt.safe = d.Memory.Safe
	})
	for _, group := range d.Groups {
		for _, act := range group {
			if err := a.Do(ctx, act); err != nil {
				a.log.Log("error", fmt.Sprintf("%s: %v", act, err), map[string]any{"action": string(act.Kind), "node": act.Node})
				break
			}
		}
	}
}

func (a *Agent) setMemory(m Memory) {
	a.mu.Lock()
	was := a.memory.ReceiverStopped
	a.memory = m
	a.mu.Unlock()
	// Remembered across restarts, so a receiver the agent stopped is always started again.
	if m.ReceiverStopped != was {
		var err error
		if m.ReceiverStopped == "" {
			err = a.routes.Remove("receiver-stopped")
		} else {
			err = a.routes.Write("receiver-stopped", m.ReceiverStopped, true)
		}
		if err != nil {
			a.log.Log("error", "receiver-stopped file: "+err.Error(), nil)
		}
	}
	a.metrics.update(func(mt *Metrics) { mt.writer = m.Writer })
}

func (a *Agent) updateMemory(f func(m *Memory)) {
	a.mu.Lock()
	f(&a.memory)
	m := a.memory
	a.mu.Unlock()
	a.metrics.update(func(mt *Metrics) { mt.writer = m.Writer })
}

func (a *Agent) acted(kind Kind) {
	a.metrics.update(func(mt *Metrics) { mt.lastDecision, mt.lastDecisionAt = string(kind), a.now() })
}

// Do runs one action.
func (a *Agent) Do(ctx context.Context, act Action) error {
	n := a.node(act.Node)
	switch act.Kind {
	case RouteWriter:
		return a.route("writer", act.Node)
	case RouteReader:
		return a.route("reader", act.Node)
	case OpenWriter:
		started := a.now()
		took, err := a.detach(ctx, n)
		if err != nil {
			return err
		}
		if _, err := a.sql.Run(ctx, n, a.probe, a.d.AsWriter(a.policy.SemiSync)+"; "+a.d.Open()); err != nil {
			return err
		}
		a.acted(OpenWriter)
		// Where a promotion's time goes, for the figures.
		a.log.Log("open", act.Node+" takes writes", map[string]any{"node": act.Node, "tookMs": a.now().Sub(started).Milliseconds(), "stopReceiverMs": took.stopReceiver.Milliseconds(), "applyMs": took.apply.Milliseconds()})
	case Fence:
		if _, err := a.sql.Run(ctx, n, a.probe, a.d.Fence()); err != nil {
			return err
		}
		a.log.Log("fence", act.Node+" fenced (read-only)", map[string]any{"node": act.Node})
	case SemiSyncReplica:
		if _, err := a.sql.Run(ctx, n, a.probe, a.d.AsReplica(true)+"; "+a.d.RestartIO()); err != nil {
			return err
		}
		a.log.Log("semi-sync", act.Node+": semi-sync replica again", map[string]any{"node": act.Node})
	case StopReplication:
		_, err := a.sql.Run(ctx, n, a.probe, a.d.Stop())
		return err
	case StopReceiver:
		started := a.now()
		// Waits for a receiver in the middle of a lookup: longer than a probe.
		if _, err := a.sql.Run(ctx, n, 15*time.Second, a.d.StopIO()); err != nil {
			return err
		}
		a.log.Log("stop-receiver", act.Node+": receiver stopped ahead of a failover", map[string]any{"node": act.Node, "tookMs": a.now().Sub(started).Milliseconds()})
	case StartReceiver:
		if _, err := a.sql.Run(ctx, n, a.probe, a.d.StartIO()); err != nil {
			return err
		}
		a.log.Log("start-receiver", act.Node+": receiving again", map[string]any{"node": act.Node})
	case PointAt:
		// Fails harmlessly on a node that replicated from nobody.
		a.sql.Run(ctx, n, a.probe, a.d.Stop())
		stmt := a.d.AsReplica(a.policy.SemiSync) + "; " + a.d.ChangeSource(a.node(act.Source), a.cfg.ReplicationUser, a.replPass, a.cfg.TLS) + "; " + a.d.Start()
		if _, err := a.sql.Run(ctx, n, a.probe, stmt); err != nil {
			return err
		}
		a.log.Log("replicate", fmt.Sprintf("%s replicates from %s", act.Node, act.Source), map[string]any{"node": act.Node, "source": act.Source})
	case Rebuild:
		if err := a.rebuild(ctx, n, a.node(act.Source)); err != nil {
			return err
		}
		a.metrics.update(func(mt *Metrics) { mt.rebuilds++ })
		a.acted(Rebuild)
		return a.Do(ctx, Action{Kind: PointAt, Node: act.Node, Source: act.Source})
	case UnstickDumps:
		a.log.Log("unstick", act.Node+": a killed replication connection has hung for 5 s or more; restarting the semi-sync source", map[string]any{"node": act.Node})
		_, err := a.sql.Run(ctx, n, a.probe, a.d.RestartSemiSyncSource())
		return err
	case ForgetLost:
		return a.routes.Remove("lost")
	case RememberWanted:
		return a.routes.Write("wanted", act.Node, true)
	case Failover:
		return a.failover(ctx, a.node(act.Source), n)
	case Switchover:
		return a.switchover(ctx, a.node(act.Source), n)
	default:
		return fmt.Errorf("unknown action %q", act.Kind)
	}
	return nil
}

func (a *Agent) route(file, node string) error {
	if a.routes.Read(file) == node {
		return nil
	}
	return a.routes.Write(file, node, false)
}

// detach applies everything the node received from its old source, then makes it replicate from
// nobody; fails (and changes nothing more) if that does not finish within the catch-up timeout.
// "Read all relay log" rather than a GTID wait: a transaction cut off mid-way by the old source's
// death is in the received set but will never be applied.
func (a *Agent) detach(ctx context.Context, n Node) (took detachTimes, err error) {
	out, err := a.sql.Vertical(ctx, n, a.probe, "SHOW REPLICA STATUS")
	if err != nil {
		return took, err
	}
	if a.d.ParseReplicaStatus(out) == nil {
		return took, nil
	}
	// Stopping a receiver that is still trying the old source can take a while (its lookup of
	// a vanished name waits for the resolver's timeout).
	started := a.now()
	if _, err := a.sql.Run(ctx, n, 15*time.Second, a.d.StopIO()); err != nil {
		return took, err
	}
	took.stopReceiver = a.now().Sub(started)
	catchUp := time.Duration(a.cfg.CatchUpTimeoutSeconds) * time.Second
	started = a.now()
	deadline := started.Add(catchUp)
	for {
		out, err := a.sql.Vertical(ctx, n, a.probe, "SHOW REPLICA STATUS")
		if err != nil {
			return took, err
		}
		if AppliedAll(a.d.ParseReplicaStatus(out)) {
			break
		}
		if a.now().After(deadline) {
			return took, fmt.Errorf("%s did not apply what it received within %s: not promoted", n.Name, catchUp)
		}
		time.Sleep(50 * time.Millisecond)
	}
	// STOP waits for the applier's workers to commit what they were given.
	_, err = a.sql.Run(ctx, n, catchUp, a.d.Stop()+"; "+a.d.Reset())
	took.apply = a.now().Sub(started)
	return took, err
}

// detachTimes: how long the receiver took to stop, and the rest to apply and reset.
type detachTimes struct{ stopReceiver, apply time.Duration }

// failover: the writer is gone; promote the other node, which has every acknowledged write.
func (a *Agent) failover(ctx context.Context, from, to Node) error {
	if err := a.routes.Write("writer", "", false); err != nil {
		return err
	}
	// Remembered before anything else: a restarted agent goes on from here.
	if err := a.routes.Write("lost", from.Name, true); err != nil {
		return err
	}
	if err := a.routes.Write("state", to.Name, true); err != nil {
		return err
	}
	a.metrics.update(func(mt *Metrics) { mt.failovers++; mt.lastMoveAt = a.now() })
	a.acted(Failover)
	a.log.Log("failover", fmt.Sprintf("failover: promoting %s (was %s)", to.Name, from.Name), map[string]any{"from": from.Name, "to": to.Name})
	if err := a.Do(ctx, Action{Kind: OpenWriter, Node: to.Name}); err != nil {
		return err
	}
	if err := a.route("writer", to.Name); err != nil {
		return err
	}
	a.log.Log("failover", fmt.Sprintf("failover: %s is the writer", to.Name), map[string]any{"from": from.Name, "to": to.Name})
	return nil
}

// switchover moves the writer while the old one is alive: route writes nowhere, fence, wait for
// the other node to execute everything the old writer has, promote it.
func (a *Agent) switchover(ctx context.Context, from, to Node) error {
	a.log.Log("switchover", fmt.Sprintf("switchover: moving the writer from %s to %s", from.Name, to.Name), map[string]any{"from": from.Name, "to": to.Name})
	if err := a.routes.Write("writer", "", false); err != nil {
		return err
	}
	// The router drops the old writer's sessions within its check interval.
	time.Sleep(time.Duration(a.cfg.SwitchoverDrainMs) * time.Millisecond)
	catchUp := time.Duration(a.cfg.CatchUpTimeoutSeconds) * time.Second
	caughtUp := false
	if _, err := a.sql.Run(ctx, from, a.probe, a.d.Fence()); err != nil {
		a.log.Log("switchover", fmt.Sprintf("switchover: cannot fence %s: %v", from.Name, err), nil)
	} else if row, err := a.sql.Run(ctx, from, a.probe, a.d.StateQuery(a.policy.SemiSync)); err == nil {
		var v NodeView
		if a.d.ParseState(row, &v) == nil {
			out, err := a.sql.Run(ctx, to, catchUp+5*time.Second, a.d.WaitForGTIDs(v.GTIDs, a.cfg.CatchUpTimeoutSeconds))
			caughtUp = err == nil && a.d.WaitedOK(out)
		}
	}
	acts, reason := SwitchoverAfterCatchUp(from.Name, to.Name, caughtUp, catchUp)
	if caughtUp {
		if err := a.routes.Write("state", to.Name, true); err != nil {
			return err
		}
		a.updateMemory(func(m *Memory) {
			m.Writer, m.Wanted = to.Name, a.policy.Wanted
			m.Safe, m.Unsafe, m.OtherSource, m.OtherReceiving = false, "nothing was seen yet", "", false
		})
		a.metrics.update(func(mt *Metrics) { mt.switchovers++; mt.lastMoveAt = a.now() })
	} else {
		a.updateMemory(func(m *Memory) { m.RetrySwitchoverAt = a.now().Add(30 * time.Second) })
		a.metrics.update(func(mt *Metrics) { mt.switchoverFails++ })
	}
	a.acted(Switchover)
	for _, act := range acts {
		if err := a.Do(ctx, act); err != nil {
			return err
		}
	}
	if caughtUp {
		if err := a.routes.Write("wanted", a.policy.Wanted, true); err != nil {
			return err
		}
	}
	a.log.Log("switchover", reason, map[string]any{"from": from.Name, "to": to.Name, "caughtUp": caughtUp})
	return nil
}

// rebuild replaces the node's databases (all but the system schemas) with a consistent dump of
// the writer's, with the writer's GTID position, so it can replicate from there.
func (a *Agent) rebuild(ctx context.Context, n, writer Node) error {
	a.log.Log("rebuild", fmt.Sprintf("rebuilding %s from %s: its extra transactions were never acknowledged", n.Name, writer.Name), map[string]any{"node": n.Name, "source": writer.Name})
	timeout := time.Duration(a.cfg.RebuildTimeoutSeconds) * time.Second
	a.sql.Run(ctx, n, a.probe, a.d.Stop())
	a.sql.Run(ctx, n, a.probe, a.d.Reset())
	schemas, err := a.sql.Run(ctx, writer, a.probe, userSchemas)
	if err != nil {
		return fmt.Errorf("rebuild: listing %s's databases: %w", writer.Name, err)
	}
	dumpFile := filepath.Join(a.cfg.WorkDir, "rebuild.sql")
	defer os.Remove(dumpFile)
	if err := a.sql.Dump(ctx, a.d.Dump, writer, timeout, a.d.DumpArgs(), strings.Fields(schemas), dumpFile); err != nil {
		return fmt.Errorf("rebuild: the dump of %s failed: %w", writer.Name, err)
	}
	mine, err := a.sql.Run(ctx, n, a.probe, userSchemas)
	if err != nil {
		return err
	}
	dump, err := os.ReadFile(dumpFile)
	if err != nil {
		return err
	}
	script, err := a.d.LoadScript(strings.Fields(mine), string(dump))
	if err != nil {
		return err
	}
	if a.d.mysql {
		if _, err := a.sql.Run(ctx, n, a.probe, "SET GLOBAL super_read_only = OFF"); err != nil {
			return err
		}
		defer a.sql.Run(ctx, n, a.probe, a.d.Fence())
	}
	if err := a.sql.Load(ctx, n, timeout, strings.NewReader(script)); err != nil {
		return fmt.Errorf("rebuild: loading %s failed: %w", n.Name, err)
	}
	if err := a.routes.Remove("lost"); err != nil {
		return err
	}
	a.updateMemory(func(m *Memory) { m.Lost = "" })
	a.log.Log("rebuild", fmt.Sprintf("rebuilt %s from %s", n.Name, writer.Name), map[string]any{"node": n.Name, "source": writer.Name})
	return nil
}

// Heartbeat writes the writer's time every second until ctx ends.
func (a *Agent) Heartbeat(ctx context.Context) {
	stmt := Heartbeat(a.cfg.Heartbeat.Database, a.cfg.Heartbeat.Table)
	t := time.NewTicker(time.Second)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		if w := a.routes.Read("writer"); w != "" {
			a.sql.Run(ctx, a.node(w), 2*time.Second, stmt)
		}
	}
}

// Run probes every interval until ctx ends.
func (a *Agent) Run(ctx context.Context) {
	a.mu.Lock()
	m := a.memory
	a.mu.Unlock()
	automatic := "off"
	if a.policy.Automatic {
		automatic = fmt.Sprintf("after %s (%s when its container is gone)", a.policy.FailoverAfter, a.policy.GoneAfter)
	}
	a.log.Log("start", fmt.Sprintf("started: writer %s, wanted %s, automatic failover %s", m.Writer, a.policy.Wanted, automatic),
		map[string]any{"engine": a.cfg.Engine, "writer": m.Writer, "wanted": a.policy.Wanted})
	if a.cfg.MetricsAddress != "" {
		a.metrics.Serve(a.cfg.MetricsAddress, a.log)
	}
	go a.Heartbeat(ctx)
	interval := time.Duration(a.cfg.ProbeIntervalMs) * time.Millisecond
	for ctx.Err() == nil {
		started := a.now()
		a.Step(ctx)
		select {
		case <-ctx.Done():
		case <-time.After(interval - a.now().Sub(started)):
		}
	}
}
