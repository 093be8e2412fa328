package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"
)

// Restorer rebuilds a node from the archive: the newest full backup finished before the target
// time, then the archived binary logs up to it.
type Restorer struct {
	Client  Client
	Archive Archive
	Key     Key
	// Schema: the backed-up schema whose changes are replayed (the binlog tools filter one).
	Schema string
}

// RestoreReport says what a restore did.
type RestoreReport struct {
	Backup         string `json:"backup"`
	BackupPosition string `json:"backupPosition"`
	StopAt         string `json:"stopAt"`
	BinlogFiles    int    `json:"binlogFiles"`
	// BinlogGroups: how many writers' binary logs were replayed (from the newest one back).
	BinlogGroups    int     `json:"binlogGroups"`
	Position        string  `json:"position"`
	DumpSeconds     float64 `json:"dumpSeconds"`
	BinlogSeconds   float64 `json:"binlogSeconds"`
	DurationSeconds float64 `json:"durationSeconds"`
}

// TimeLayout is how restore times are written (UTC).
const TimeLayout = "2006-01-02 15:04:05"

// Choose picks the newest backup finished at or before stopAt.
func Choose(backups []Manifest, stopAt time.Time) (Manifest, error) {
	var best *Manifest
	for i := range backups {
		if !backups[i].FinishedAt.After(stopAt) && (best == nil || backups[i].FinishedAt.After(best.FinishedAt)) {
			best = &backups[i]
		}
	}
	if best == nil {
		return Manifest{}, fmt.Errorf("no full backup finished at or before %s UTC (%d in the archive)", stopAt.UTC().Format(TimeLayout), len(backups))
	}
	return *best, nil
}

// Restore loads the chosen backup into target (a fresh node: its binary logs and GTID state are
// reset) and replays the binary logs up to stopAt (exclusive, at whole seconds: the binlog's
// timestamps are seconds).
func (r Restorer) Restore(ctx context.Context, target Endpoint, stopAt time.Time, backupID string) (RestoreReport, error) {
	began := time.Now()
	backups, err := r.Archive.Backups()
	if err != nil {
		return RestoreReport{}, err
	}
	var m Manifest
	if backupID != "" {
		found := false
		for _, b := range backups {
			if b.ID == backupID {
				m, found = b, true
			}
		}
		if !found {
			return RestoreReport{}, fmt.Errorf("no backup %q in the archive", backupID)
		}
	} else if m, err = Choose(backups, stopAt); err != nil {
		return RestoreReport{}, err
	}
	rep := RestoreReport{Backup: m.ID, BackupPosition: m.Position, StopAt: stopAt.UTC().Format(TimeLayout)}
	d := r.Client.Dialect
	if _, err := r.Client.Query(ctx, target, 30*time.Second, d.ResetForRestore()); err != nil {
		return rep, err
	}
	dump, err := r.Archive.OpenDump(m, r.Key)
	if err != nil {
		return rep, err
	}
	// Not into the target's binary log: the dump is the state the replayed GTIDs continue from.
	script := io.MultiReader(strings.NewReader("SET SESSION sql_log_bin = 0;\n"), dump)
	err = r.Client.Load(ctx, target, script)
	dump.Close()
	if err != nil {
		return rep, fmt.Errorf("loading backup %s: %w", m.ID, err)
	}
	if after := d.AfterDump(m.Position); after != "" {
		if _, err := r.Client.Query(ctx, target, 30*time.Second, after); err != nil {
			return rep, err
		}
	}
	rep.DumpSeconds = time.Since(began).Seconds()
	groups, err := r.Archive.BinlogGroups()
	if err != nil {
		return rep, err
	}
	work, err := os.MkdirTemp("", "dws-restore-")
	if err != nil {
		return rep, err
	}
	defer os.RemoveAll(work)
	from, err := r.firstCoveringGroup(ctx, target, groups, m.Position, work)
	if err != nil {
		return rep, err
	}
	rep.BinlogGroups = len(groups) - from
	for _, g := range groups[from:] {
		files, err := r.plainFiles(g, work)
		if err != nil {
			return rep, err
		}
		if len(files) == 0 {
			continue
		}
		// Each group from where the target stands: what an earlier group (or the dump) already
		// applied is skipped (MariaDB by this position, MySQL by its own GTID check).
		from, err := r.Client.Query(ctx, target, 10*time.Second, d.CurrentPosition())
		if err != nil {
			return rep, err
		}
		if err := r.replay(ctx, target, files, strings.TrimSpace(from), rep.StopAt); err != nil {
			return rep, fmt.Errorf("replaying %s: %w", filepath.Base(g.Dir), err)
		}
		rep.BinlogFiles += len(files)
	}
	pos, err := r.Client.Query(ctx, target, 10*time.Second, d.CurrentPosition())
	if err != nil {
		return rep, err
	}
	// The client in batch mode writes a GTID set's line breaks as "\n".
	rep.Position = strings.Join(strings.Fields(strings.ReplaceAll(pos, `\n`, "")), "")
	rep.BinlogSeconds = time.Since(began).Seconds() - rep.DumpSeconds
	rep.DurationSeconds = time.Since(began).Seconds()
	return rep, nil
}

// firstCoveringGroup: the newest group whose binary logs reach back to the backup's position
// (its first file starts at or before it), so only that writer's history is replayed and no
// transaction an older writer logged but the next one never had (unacknowledged, lost in a
// failover) comes back. If none reaches back that far, all groups, oldest first.
func (r Restorer) firstCoveringGroup(ctx context.Context, target Endpoint, groups []BinlogGroup, position, work string) (int, error) {
	d := r.Client.Dialect
	for i := len(groups) - 1; i >= 0; i-- {
		files := groups[i].Files()
		if len(files) == 0 {
			continue
		}
		first, err := r.plainFile(groups[i], files[0], work)
		if err != nil {
			return 0, err
		}
		out, err := r.Client.exec(ctx, d.Binlog, []string{"--stop-position=1024", first}, nil, nil)
		if err != nil {
			return 0, err
		}
		prev, found := d.PreviousPosition(out)
		if !found {
			continue
		}
		covered := prev == ""
		if !covered && d.Engine == "mysql" {
			answer, err := r.Client.Query(ctx, target, 10*time.Second, fmt.Sprintf("SELECT GTID_SUBSET('%s', '%s')", prev, position))
			if err != nil {
				return 0, err
			}
			covered = strings.TrimSpace(answer) == "1"
		} else if !covered {
			covered = MariaDBCovers(position, prev)
		}
		if covered {
			return i, nil
		}
	}
	return 0, nil
}

// plainFile: one of a group's files, decrypted into work if it is encrypted.
func (r Restorer) plainFile(g BinlogGroup, name, work string) (string, error) {
	plain := filepath.Join(g.Dir, name)
	if _, err := os.Stat(plain); err == nil {
		return plain, nil
	}
	dst := filepath.Join(work, filepath.Base(g.Dir)+"-"+name)
	if _, err := os.Stat(dst); err == nil {
		return dst, nil
	}
	if err := decryptFile(plain+".enc", dst, r.Key); err != nil {
		return "", fmt.Errorf("%s.enc: %w", plain, err)
	}
	return dst, nil
}

// plainFiles: a group's files, the encrypted ones decrypted into work.
func (r Restorer) plainFiles(g BinlogGroup, work string) ([]string, error) {
	var out []string
	for _, name := range g.Files() {
		f, err := r.plainFile(g, name, work)
		if err != nil {
			return nil, err
		}
		out = append(out, f)
	}
	return out, nil
}

func decryptFile(src, dst string, key Key) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	plain, err := Decrypt(in, key)
	if err != nil {
		return err
	}
	out, err := os.OpenFile(dst, os.O_CREATE|os.O_TRUNC|os.O_WRONLY, 0o600)
	if err != nil {
		return err
	}
	defer out.Close()
	_, err = io.Copy(out, plain)
	return err
}

// replay: the binlog tool's SQL for files, piped into the target's client.
func (r Restorer) replay(ctx context.Context, target Endpoint, files []string, from, stopAt string) error {
	d := r.Client.Dialect
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	// Only the backed-up schemas' changes: the binary logs also hold the library's own (the
	// failover agent's heartbeat), which the dump does not.
	args := append(d.ReplayArgs(from, stopAt), "--database="+r.Schema)
	tool := exec.CommandContext(ctx, d.Binlog, append(args, files...)...)
	// --stop-datetime is read in the tool's time zone: UTC, as the archive's times are.
	tool.Env = append(os.Environ(), "TZ=UTC")
	var toolErr strings.Builder
	tool.Stderr = &toolErr
	sql, err := tool.StdoutPipe()
	if err != nil {
		return err
	}
	if err := tool.Start(); err != nil {
		return err
	}
	loadErr := r.Client.Load(ctx, target, sql)
	if loadErr != nil {
		cancel() // the tool would block on a pipe nobody reads
	}
	waitErr := tool.Wait()
	if loadErr != nil {
		return loadErr
	}
	if waitErr != nil {
		return fmt.Errorf("%s: %v: %s", d.Binlog, waitErr, strings.TrimSpace(toolErr.String()))
	}
	return loadErr
}
