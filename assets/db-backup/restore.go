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
}

// RestoreReport says what a restore did.
type RestoreReport struct {
	Backup          string  `json:"backup"`
	BackupPosition  string  `json:"backupPosition"`
	StopAt          string  `json:"stopAt"`
	BinlogFiles     int     `json:"binlogFiles"`
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
	for _, g := range groups {
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
	rep.Position = strings.Join(strings.Fields(pos), "")
	rep.BinlogSeconds = time.Since(began).Seconds() - rep.DumpSeconds
	rep.DurationSeconds = time.Since(began).Seconds()
	return rep, nil
}

// plainFiles: a group's files, the encrypted ones decrypted into work.
func (r Restorer) plainFiles(g BinlogGroup, work string) ([]string, error) {
	var out []string
	for _, name := range g.Files() {
		plain := filepath.Join(g.Dir, name)
		if _, err := os.Stat(plain); err == nil {
			out = append(out, plain)
			continue
		}
		dst := filepath.Join(work, filepath.Base(g.Dir)+"-"+name)
		if err := decryptFile(plain+".enc", dst, r.Key); err != nil {
			return nil, fmt.Errorf("%s.enc: %w", plain, err)
		}
		out = append(out, dst)
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
	tool := exec.CommandContext(ctx, d.Binlog, append(d.ReplayArgs(from, stopAt), files...)...)
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
	waitErr := tool.Wait()
	if waitErr != nil {
		return fmt.Errorf("%s: %v: %s", d.Binlog, waitErr, strings.TrimSpace(toolErr.String()))
	}
	return loadErr
}
