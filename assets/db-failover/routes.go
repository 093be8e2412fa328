package main

import (
	"os"
	"path/filepath"
	"strings"
)

// Routes are the files the agent shares with the router (writer, reader: a node name each, read
// by its route check every second) and the files it remembers its decisions in (state, wanted,
// lost), all in one directory on the agent's volume.
type Routes struct{ Dir string }

// Read returns a file's first line, "" when it is missing.
func (r Routes) Read(name string) string {
	raw, err := os.ReadFile(filepath.Join(r.Dir, name))
	if err != nil {
		return ""
	}
	line, _, _ := strings.Cut(string(raw), "\n")
	return strings.TrimSpace(line)
}

// Write replaces a file atomically: the router never reads a half-written one. durable: synced
// to disk before and after the rename (a decision a restarted agent must find).
func (r Routes) Write(name, value string, durable bool) error {
	tmp := filepath.Join(r.Dir, "."+name)
	f, err := os.OpenFile(tmp, os.O_CREATE|os.O_TRUNC|os.O_WRONLY, 0o644)
	if err != nil {
		return err
	}
	if _, err := f.WriteString(value + "\n"); err != nil {
		f.Close()
		return err
	}
	if durable {
		if err := f.Sync(); err != nil {
			f.Close()
			return err
		}
	}
	if err := f.Close(); err != nil {
		return err
	}
	if err := os.Rename(tmp, filepath.Join(r.Dir, name)); err != nil {
		return err
	}
	if durable {
		d, err := os.Open(r.Dir)
		if err != nil {
			return err
		}
		defer d.Close()
		return d.Sync()
	}
	return nil
}

// Remove deletes a file (durably).
func (r Routes) Remove(name string) error {
	if err := os.Remove(filepath.Join(r.Dir, name)); err != nil && !os.IsNotExist(err) {
		return err
	}
	d, err := os.Open(r.Dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}
