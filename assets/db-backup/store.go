package main

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"
)

// The archive is a directory (a volume of its own, off the database nodes):
//   full/<id>.sql.gz.enc   a full backup, encrypted
//   full/<id>.json         its manifest, written last: a backup without one is incomplete
//   binlog/<NNNN>-<server_id>/<binlog file>[.enc]
//                          binary logs streamed from each writer in turn (NNNN counts them),
//                          encrypted once complete; the one being written is plain until it rotates

// Manifest describes a full backup.
type Manifest struct {
	ID              string    `json:"id"`
	Engine          string    `json:"engine"`
	Source          string    `json:"source"`
	Schemas         []string  `json:"schemas"`
	StartedAt       time.Time `json:"startedAt"`
	FinishedAt      time.Time `json:"finishedAt"`
	DurationSeconds float64   `json:"durationSeconds"`
	// Bytes: the encrypted file; DumpBytes: the SQL before compression.
	Bytes     int64  `json:"bytes"`
	DumpBytes int64  `json:"dumpBytes"`
	SHA256    string `json:"sha256"`
	Position  string `json:"position"`
}

// Archive is the backup directory.
type Archive struct{ Dir string }

func (a Archive) fullDir() string   { return filepath.Join(a.Dir, "full") }
func (a Archive) binlogDir() string { return filepath.Join(a.Dir, "binlog") }

// DumpFile is where a backup's data is.
func (a Archive) DumpFile(id string) string { return filepath.Join(a.fullDir(), id+".sql.gz.enc") }

// Backups lists the complete backups, oldest first.
func (a Archive) Backups() ([]Manifest, error) {
	entries, err := os.ReadDir(a.fullDir())
	if os.IsNotExist(err) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var out []Manifest
	for _, e := range entries {
		if !strings.HasSuffix(e.Name(), ".json") {
			continue
		}
		b, err := os.ReadFile(filepath.Join(a.fullDir(), e.Name()))
		if err != nil {
			return nil, err
		}
		var m Manifest
		if err := json.Unmarshal(b, &m); err != nil {
			return nil, fmt.Errorf("%s: %v", e.Name(), err)
		}
		out = append(out, m)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].StartedAt.Before(out[j].StartedAt) })
	return out, nil
}

// writeAtomically writes a file through a temporary one, synced, then renamed into place.
func writeAtomically(path string, write func(io.Writer) error) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return err
	}
	tmp := path + ".partial"
	f, err := os.OpenFile(tmp, os.O_CREATE|os.O_TRUNC|os.O_WRONLY, 0o600)
	if err != nil {
		return err
	}
	err = write(f)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(tmp)
		return err
	}
	return os.Rename(tmp, path)
}

// SaveManifest completes a backup.
func (a Archive) SaveManifest(m Manifest) error {
	b, _ := json.MarshalIndent(m, "", "  ")
	return writeAtomically(filepath.Join(a.fullDir(), m.ID+".json"), func(w io.Writer) error {
		_, err := w.Write(append(b, '\n'))
		return err
	})
}

// Remove deletes a backup: its manifest first, so it is never half there and listed.
func (a Archive) Remove(id string) error {
	if err := os.Remove(filepath.Join(a.fullDir(), id+".json")); err != nil && !os.IsNotExist(err) {
		return err
	}
	return os.Remove(a.DumpFile(id))
}

// RemoveIncomplete deletes what an interrupted backup left (data without a manifest).
func (a Archive) RemoveIncomplete() {
	entries, _ := os.ReadDir(a.fullDir())
	for _, e := range entries {
		name := e.Name()
		id, isData := strings.CutSuffix(name, ".sql.gz.enc")
		if strings.HasSuffix(name, ".partial") {
			os.Remove(filepath.Join(a.fullDir(), name))
		} else if _, err := os.Stat(filepath.Join(a.fullDir(), id+".json")); isData && os.IsNotExist(err) {
			os.Remove(filepath.Join(a.fullDir(), name))
		}
	}
}

// BinlogGroup is the binary logs streamed from one writer.
type BinlogGroup struct {
	Dir      string
	Seq      int
	ServerID string
}

// BinlogGroups lists the groups in the order they were streamed.
func (a Archive) BinlogGroups() ([]BinlogGroup, error) {
	entries, err := os.ReadDir(a.binlogDir())
	if os.IsNotExist(err) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var out []BinlogGroup
	for _, e := range entries {
		var seq int
		var server string
		if _, err := fmt.Sscanf(strings.Replace(e.Name(), "-", " ", 1), "%d %s", &seq, &server); err != nil || !e.IsDir() {
			continue
		}
		out = append(out, BinlogGroup{Dir: filepath.Join(a.binlogDir(), e.Name()), Seq: seq, ServerID: server})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Seq < out[j].Seq })
	return out, nil
}

// NewBinlogGroup starts the group of the next writer.
func (a Archive) NewBinlogGroup(serverID string) (BinlogGroup, error) {
	groups, err := a.BinlogGroups()
	if err != nil {
		return BinlogGroup{}, err
	}
	seq := 1
	if len(groups) > 0 {
		seq = groups[len(groups)-1].Seq + 1
	}
	g := BinlogGroup{Dir: filepath.Join(a.binlogDir(), fmt.Sprintf("%04d-%s", seq, serverID)), Seq: seq, ServerID: serverID}
	return g, os.MkdirAll(g.Dir, 0o700)
}

// Files lists a group's binary logs by name (plain or encrypted), in order.
func (g BinlogGroup) Files() []string {
	entries, _ := os.ReadDir(g.Dir)
	var out []string
	for _, e := range entries {
		name := strings.TrimSuffix(e.Name(), ".enc")
		if strings.HasSuffix(e.Name(), ".partial") || (len(out) > 0 && out[len(out)-1] == name) {
			continue
		}
		out = append(out, name)
	}
	sort.Strings(out)
	return out
}
