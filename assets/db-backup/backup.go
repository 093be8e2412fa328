package main

import (
	"bufio"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"time"
)

// Backuper takes full backups.
type Backuper struct {
	Client  Client
	Archive Archive
	Key     Key
	Nodes   []Endpoint
	Schemas []string
	Timeout time.Duration
}

// ErrOnlyWriter: no node but the writer answers; a backup never runs on the writer.
var ErrOnlyWriter = errors.New("no node but the writer answers: not backing up from the writer (its writes would wait on the dump)")

// Source picks the node to back up: one that answers and is read-only (not the writer).
func (b Backuper) Source(ctx context.Context) (Endpoint, error) {
	answered := 0
	for _, n := range b.Nodes {
		out, err := b.Client.Query(ctx, n, 5*time.Second, "SELECT @@GLOBAL.read_only")
		if err != nil {
			continue
		}
		answered++
		if strings.TrimSpace(out) == "1" {
			return n, nil
		}
	}
	if answered == 0 {
		return Endpoint{}, errors.New("no database node answers")
	}
	return Endpoint{}, ErrOnlyWriter
}

// countingWriter counts bytes and hashes them on the way through.
type countingWriter struct {
	w    io.Writer
	n    int64
	hash io.Writer
}

func (c *countingWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	if c.hash != nil {
		c.hash.Write(p[:n])
	}
	return n, err
}

// positionTap keeps the first and the last bytes of a stream: the dump writes its position at
// the start (MySQL, MariaDB 10.11) or, deferred, at the end (MariaDB 11.x).
type positionTap struct {
	head, tail []byte
	limit      int
}

func (t *positionTap) Write(p []byte) (int, error) {
	if room := t.limit - len(t.head); room > 0 {
		t.head = append(t.head, p[:min(room, len(p))]...)
	}
	t.tail = append(t.tail, p...)
	if over := len(t.tail) - t.limit; over > 0 {
		t.tail = append(t.tail[:0], t.tail[over:]...)
	}
	return len(p), nil
}

func (t *positionTap) text() string { return string(t.head) + "\n" + string(t.tail) }

// Run takes one full backup, now: dump from a non-writer node, compressed, encrypted, written to
// the archive with its manifest last.
func (b Backuper) Run(ctx context.Context, now func() time.Time) (Manifest, error) {
	b.Archive.RemoveIncomplete()
	source, err := b.Source(ctx)
	if err != nil {
		return Manifest{}, err
	}
	started := now().UTC()
	m := Manifest{ID: started.Format("20060102T150405Z"), Engine: b.Client.Dialect.Engine, Source: source.Name, Schemas: b.Schemas, StartedAt: started}
	ctx, cancel := context.WithTimeout(ctx, b.Timeout)
	defer cancel()
	head := &positionTap{limit: 64 << 10}
	var dumped *countingWriter
	hash := sha256.New()
	err = writeAtomically(b.Archive.DumpFile(m.ID), func(file io.Writer) error {
		out := &countingWriter{w: file, hash: hash}
		enc, err := Encrypt(out, b.Key)
		if err != nil {
			return err
		}
		zw, _ := gzip.NewWriterLevel(enc, gzip.BestSpeed)
		dumped = &countingWriter{w: io.MultiWriter(zw, head)}
		args := append(b.Client.connection(source), b.Client.Dialect.DumpArgs()...)
		args = append(append(args, "--databases"), b.Schemas...)
		cmd := exec.CommandContext(ctx, b.Client.Dialect.Dump, args...)
		var errOut strings.Builder
		cmd.Stdout, cmd.Stderr = dumped, &errOut
		cmd.WaitDelay = time.Second
		if err := cmd.Run(); err != nil {
			return fmt.Errorf("%s on %s: %v: %s", b.Client.Dialect.Dump, source.Name, err, strings.TrimSpace(errOut.String()))
		}
		if err := zw.Close(); err != nil {
			return err
		}
		if err := enc.Close(); err != nil {
			return err
		}
		m.Bytes = out.n
		return nil
	})
	if err != nil {
		return Manifest{}, err
	}
	if m.Position, err = b.Client.Dialect.DumpPosition(head.text()); err != nil {
		os.Remove(b.Archive.DumpFile(m.ID))
		return Manifest{}, err
	}
	m.DumpBytes = dumped.n
	m.SHA256 = hex.EncodeToString(hash.Sum(nil))
	m.FinishedAt = now().UTC()
	m.DurationSeconds = m.FinishedAt.Sub(m.StartedAt).Seconds()
	return m, b.Archive.SaveManifest(m)
}

// Prune removes backups the retention does not keep.
func (b Backuper) Prune(r Retention) ([]string, error) {
	all, err := b.Archive.Backups()
	if err != nil {
		return nil, err
	}
	byTime := map[time.Time]string{}
	var times []time.Time
	for _, m := range all {
		byTime[m.StartedAt] = m.ID
		times = append(times, m.StartedAt)
	}
	var removed []string
	for _, t := range Prune(times, r) {
		if err := b.Archive.Remove(byTime[t]); err != nil {
			return removed, err
		}
		removed = append(removed, byTime[t])
	}
	return removed, nil
}

// OpenDump reads a backup's SQL back: decrypted, decompressed, its checksum verified at the end.
func (a Archive) OpenDump(m Manifest, key Key) (io.ReadCloser, error) {
	f, err := os.Open(a.DumpFile(m.ID))
	if err != nil {
		return nil, err
	}
	hash := sha256.New()
	plain, err := Decrypt(io.TeeReader(bufio.NewReader(f), hash), key)
	if err != nil {
		f.Close()
		return nil, err
	}
	zr, err := gzip.NewReader(plain)
	if err != nil {
		f.Close()
		return nil, err
	}
	return &verifiedReader{r: zr, f: f, hash: hash, want: m.SHA256}, nil
}

type verifiedReader struct {
	r    io.Reader
	f    *os.File
	hash interface{ Sum([]byte) []byte }
	want string
}

func (v *verifiedReader) Read(p []byte) (int, error) {
	n, err := v.r.Read(p)
	if err == io.EOF && hex.EncodeToString(v.hash.Sum(nil)) != v.want {
		return n, errors.New("backup file does not match its manifest's checksum")
	}
	return n, err
}

func (v *verifiedReader) Close() error { return v.f.Close() }
