package main

import (
	"encoding/json"
	"fmt"
	"os"
	"strings"
)

// Config is the program's JSON config, rendered by the library (src/database/render/backup.ts).
type Config struct {
	Engine string     `json:"engine"`
	Nodes  []Endpoint `json:"nodes"`
	// WriterRouteFile: the failover agent's route file naming the node that takes writes (one of
	// Nodes); binary logs stream from that node, and follow it on a failover.
	WriterRouteFile string    `json:"writerRouteFile"`
	User            string    `json:"user"`
	PasswordFile    string    `json:"passwordFile"`
	TLSOptions      []string  `json:"tlsOptions"`
	Dir             string    `json:"dir"`
	KeyFile         string    `json:"keyFile"`
	Schemas         []string  `json:"schemas"`
	IntervalMinutes int       `json:"intervalMinutes"`
	Retention       Retention `json:"retention"`
	TimeoutMinutes  int       `json:"timeoutMinutes"`
	BinlogServerID  int       `json:"binlogServerId"`
	MetricsAddress  string    `json:"metricsAddress"`
	OptionFile      string    `json:"optionFile"`
}

func LoadConfig(path string) (Config, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return Config{}, err
	}
	c := Config{IntervalMinutes: 1440, Retention: Retention{Daily: 7, Weekly: 4}, TimeoutMinutes: 60, BinlogServerID: 4001, OptionFile: "/tmp/db-backup.cnf"}
	dec := json.NewDecoder(strings.NewReader(string(b)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&c); err != nil {
		return Config{}, fmt.Errorf("%s: %v", path, err)
	}
	if _, err := DialectFor(c.Engine); err != nil {
		return Config{}, fmt.Errorf("%s: %v", path, err)
	}
	if len(c.Nodes) == 0 || c.Dir == "" || c.KeyFile == "" || len(c.Schemas) == 0 || c.IntervalMinutes < 1 {
		return Config{}, fmt.Errorf("%s: needs nodes, dir, keyFile, schemas and intervalMinutes >= 1", path)
	}
	return c, nil
}

// Client writes the tools' option file from the password file and returns a client using it.
func (c Config) Client() (Client, error) {
	d, _ := DialectFor(c.Engine)
	password, err := os.ReadFile(c.PasswordFile)
	if err != nil {
		return Client{}, err
	}
	if err := WriteOptionFile(c.OptionFile, c.User, strings.TrimSpace(string(password)), c.TLSOptions); err != nil {
		return Client{}, err
	}
	return Client{Dialect: d, OptionFile: c.OptionFile}, nil
}
