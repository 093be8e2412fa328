package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Archiver streams the writer's binary logs into the archive as they are written (the binlog
// tool as a replica: --read-from-remote-server --raw --stop-never), so a restore can stop at any
// second. It follows the writer: when the failover agent's route file names another node (a
// failover), it starts a new group for that server; completed files are encrypted.
type Archiver struct {
	Client  Client
	Archive Archive
	Key     Key
	// Writer: the node that takes writes now (false while none does).
	Writer   func() (Endpoint, bool)
	ServerID int // the replica server_id the binlog tool connects with
	Log      *slog.Logger

	mu        sync.Mutex
	streaming bool
	lagBytes  int64
}

// Status: whether a stream runs, and how far it is behind the writer (bytes; -1 unknown).
func (a *Archiver) Status() (bool, int64) {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.streaming, a.lagBytes
}

func (a *Archiver) set(f func()) {
	a.mu.Lock()
	defer a.mu.Unlock()
	f()
}

// Run streams until ctx ends, restarting the tool when it stops (a writer gone, a failover).
func (a *Archiver) Run(ctx context.Context) {
	for ctx.Err() == nil {
		if err := a.streamOnce(ctx); err != nil && ctx.Err() == nil {
			a.Log.Warn("binlog stream stopped", "err", err.Error())
		}
		a.set(func() { a.streaming = false; a.lagBytes = -1 })
		select {
		case <-ctx.Done():
		case <-time.After(time.Second):
		}
	}
}

func (a *Archiver) serverID(ctx context.Context, writer Endpoint) (string, error) {
	out, err := a.Client.Query(ctx, writer, 5*time.Second, "SELECT @@GLOBAL.server_id")
	return strings.TrimSpace(out), err
}

// RouteFileWriter reads the node a route file names, among nodes.
func RouteFileWriter(path string, nodes []Endpoint) func() (Endpoint, bool) {
	return func() (Endpoint, bool) {
		b, err := os.ReadFile(path)
		if err != nil {
			return Endpoint{}, false
		}
		name := strings.TrimSpace(string(b))
		for _, n := range nodes {
			if n.Name == name {
				return n, true
			}
		}
		return Endpoint{}, false
	}
}

// group: the current writer's group, new when the writer is another server than the last one.
func (a *Archiver) group(serverID string) (BinlogGroup, bool, error) {
	groups, err := a.Archive.BinlogGroups()
	if err != nil {
		return BinlogGroup{}, false, err
	}
	if n := len(groups); n > 0 && groups[n-1].ServerID == serverID {
		return groups[n-1], false, nil
	}
	if n := len(groups); n > 0 {
		a.sealAll(groups[n-1])
	}
	g, err := a.Archive.NewBinlogGroup(serverID)
	return g, true, err
}

func (a *Archiver) streamOnce(ctx context.Context) error {
	writer, ok := a.Writer()
	if !ok {
		return fmt.Errorf("no node takes writes (the route file names none)")
	}
	serverID, err := a.serverID(ctx, writer)
	if err != nil {
		return err
	}
	g, fresh, err := a.group(serverID)
	if err != nil {
		return err
	}
	// From the writer's oldest binary log for a new group, else again from the newest file we
	// have (the tool rewrites it whole).
	start := ""
	if files := g.Files(); !fresh && len(files) > 0 {
		start = files[len(files)-1]
		os.Remove(filepath.Join(g.Dir, start+".enc"))
	} else {
		out, err := a.Client.Query(ctx, writer, 5*time.Second, "SHOW BINARY LOGS")
		if err != nil {
			return err
		}
		start = strings.Fields(out + " ")[0]
	}
	if start == "" {
		return fmt.Errorf("the writer (server_id %s) lists no binary log", serverID)
	}
	streamCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	args := append(a.Client.connection(writer), "--read-from-remote-server", "--raw", "--stop-never", "--result-file="+g.Dir+"/")
	if a.Client.Dialect.Engine == "mysql" {
		args = append(args, "--connection-server-id="+strconv.Itoa(a.ServerID))
	} else {
		args = append(args, "--stop-never-slave-server-id="+strconv.Itoa(a.ServerID))
	}
	cmd := exec.CommandContext(streamCtx, a.Client.Dialect.Binlog, append(args, start)...)
	var errOut strings.Builder
	cmd.Stdout, cmd.Stderr = io.Discard, &errOut
	cmd.WaitDelay = time.Second
	if err := cmd.Start(); err != nil {
		return err
	}
	a.Log.Info("binlog stream started", "writer", writer.Host, "serverId", serverID, "from", start, "group", filepath.Base(g.Dir))
	a.set(func() { a.streaming = true })
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	for {
		select {
		case err := <-done:
			return fmt.Errorf("%s: %v: %s", a.Client.Dialect.Binlog, err, strings.TrimSpace(errOut.String()))
		case <-tick.C:
			a.sealCompleted(g)
			// Another node takes writes (a failover): stop, and start its group.
			if now, ok := a.Writer(); !ok || now != writer {
				a.Log.Info("writer changed", "from", writer.Name, "to", now.Name)
				cancel()
				<-done
				return nil
			}
			a.measureLag(ctx, writer, g)
		}
	}
}

// measureLag compares the writer's current position with what is archived of that file.
func (a *Archiver) measureLag(ctx context.Context, writer Endpoint, g BinlogGroup) {
	out, err := a.Client.Query(ctx, writer, 5*time.Second, a.Client.Dialect.WriterPosition())
	f := strings.Fields(out)
	if err != nil || len(f) < 2 {
		return
	}
	pos, _ := strconv.ParseInt(f[1], 10, 64)
	lag := int64(-1)
	if st, err := os.Stat(filepath.Join(g.Dir, f[0])); err == nil {
		lag = max(pos-st.Size(), 0)
	}
	a.set(func() { a.lagBytes = lag })
}

// sealCompleted encrypts the group's complete files (all but the newest, which is still written).
func (a *Archiver) sealCompleted(g BinlogGroup) {
	files := g.Files()
	for i, name := range files {
		if i < len(files)-1 {
			a.seal(g, name)
		}
	}
}

func (a *Archiver) sealAll(g BinlogGroup) {
	for _, name := range g.Files() {
		a.seal(g, name)
	}
}

func (a *Archiver) seal(g BinlogGroup, name string) {
	plain := filepath.Join(g.Dir, name)
	in, err := os.Open(plain)
	if err != nil {
		return // sealed already
	}
	defer in.Close()
	err = writeAtomically(plain+".enc", func(w io.Writer) error {
		enc, err := Encrypt(w, a.Key)
		if err != nil {
			return err
		}
		if _, err := io.Copy(enc, in); err != nil {
			return err
		}
		return enc.Close()
	})
	if err != nil {
		a.Log.Warn("could not encrypt a binary log", "file", plain, "err", err.Error())
		return
	}
	os.Remove(plain)
}
