package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"time"
)

// Config is the agent's configuration file (JSON), rendered by the library.
type Config struct {
	Engine string  `json:"engine"`
	Nodes  [2]Node `json:"nodes"`
	// WantedWriter: the node the `writer` prop names.
	WantedWriter          string  `json:"wantedWriter"`
	Automatic             bool    `json:"automatic"`
	SemiSync              bool    `json:"semiSync"`
	FailoverAfterSeconds  float64 `json:"failoverAfterSeconds"`
	GoneAfterSeconds      float64 `json:"goneAfterSeconds"`
	CatchUpTimeoutSeconds int     `json:"catchUpTimeoutSeconds"`
	RebuildTimeoutSeconds int     `json:"rebuildTimeoutSeconds"`
	// ProbeIntervalMs: how often both nodes are probed.
	ProbeIntervalMs int `json:"probeIntervalMs"`
	// ProbeTimeoutMs: longest wait for a node's answer before it counts as timed out.
	ProbeTimeoutMs int `json:"probeTimeoutMs"`
	// LookupTimeoutMs: longest wait for a node's name to resolve before it counts as gone.
	LookupTimeoutMs int `json:"lookupTimeoutMs"`
	// SwitchoverDrainMs: after writes are routed nowhere, how long the router gets to close the old
	// writer's sessions before it is fenced.
	SwitchoverDrainMs int    `json:"switchoverDrainMs"`
	ReplicationUser   string `json:"replicationUser"`
	AgentUser         string `json:"agentUser"`
	// SecretsDir holds the files failover-password and replication-password.
	SecretsDir string `json:"secretsDir"`
	RouteDir   string `json:"routeDir"`
	TLS        *TLS   `json:"tls,omitempty"`
	// Heartbeat: the table the agent writes the writer's time to, every second.
	Heartbeat struct {
		Database string `json:"database"`
		Table    string `json:"table"`
	} `json:"heartbeat"`
	// MetricsAddress: host:port of the Prometheus endpoint; empty for none.
	MetricsAddress string `json:"metricsAddress,omitempty"`
	// WorkDir: where the option file and rebuild dumps go.
	WorkDir string `json:"workDir"`
	// Client / Dump: override the engine's programs (tests).
	Client string `json:"client,omitempty"`
	Dump   string `json:"dump,omitempty"`
}

var (
	nameRe     = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$`)
	identRe    = regexp.MustCompile(`^[A-Za-z0-9_]{1,32}$`)
	passwordRe = regexp.MustCompile(`^[A-Za-z0-9]+$`)
)

// LoadConfig reads and checks the configuration.
func LoadConfig(path string) (Config, error) {
	var c Config
	raw, err := os.ReadFile(path)
	if err != nil {
		return c, err
	}
	dec := json.NewDecoder(strings.NewReader(string(raw)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&c); err != nil {
		return c, fmt.Errorf("%s: %v", path, err)
	}
	return c, c.check()
}

func (c Config) check() error {
	if _, err := DialectFor(c.Engine); err != nil {
		return err
	}
	for i, n := range c.Nodes {
		if !nameRe.MatchString(n.Name) || !nameRe.MatchString(n.Host) || n.Port < 1 || n.Port > 65535 {
			return fmt.Errorf("nodes[%d] must have a name, a host and a port in 1-65535 (got %+v)", i, n)
		}
	}
	if c.Nodes[0].Name == c.Nodes[1].Name {
		return fmt.Errorf("nodes must have two different names (got %q twice)", c.Nodes[0].Name)
	}
	if c.WantedWriter != c.Nodes[0].Name && c.WantedWriter != c.Nodes[1].Name {
		return fmt.Errorf("wantedWriter must be %q or %q (got %q)", c.Nodes[0].Name, c.Nodes[1].Name, c.WantedWriter)
	}
	if c.Automatic && !c.SemiSync {
		return fmt.Errorf("automatic failover needs semiSync: without it the replica may lack acknowledged writes")
	}
	for name, v := range map[string]float64{"failoverAfterSeconds": c.FailoverAfterSeconds, "goneAfterSeconds": c.GoneAfterSeconds} {
		if v < 0.5 || v > 3600 {
			return fmt.Errorf("%s must be between 0.5 and 3600 (got %v)", name, v)
		}
	}
	for name, v := range map[string]int{"catchUpTimeoutSeconds": c.CatchUpTimeoutSeconds, "rebuildTimeoutSeconds": c.RebuildTimeoutSeconds} {
		if v < 1 || v > 86400 {
			return fmt.Errorf("%s must be between 1 and 86400 (got %d)", name, v)
		}
	}
	for name, v := range map[string]int{"probeIntervalMs": c.ProbeIntervalMs, "probeTimeoutMs": c.ProbeTimeoutMs, "lookupTimeoutMs": c.LookupTimeoutMs, "switchoverDrainMs": c.SwitchoverDrainMs} {
		if v < 100 || v > 60000 {
			return fmt.Errorf("%s must be between 100 and 60000 (got %d)", name, v)
		}
	}
	for name, v := range map[string]string{"replicationUser": c.ReplicationUser, "agentUser": c.AgentUser, "heartbeat.database": c.Heartbeat.Database, "heartbeat.table": c.Heartbeat.Table} {
		if !identRe.MatchString(v) {
			return fmt.Errorf("%s must be letters, digits and _ (got %q)", name, v)
		}
	}
	for name, v := range map[string]string{"secretsDir": c.SecretsDir, "routeDir": c.RouteDir, "workDir": c.WorkDir} {
		if !filepath.IsAbs(v) {
			return fmt.Errorf("%s must be an absolute path (got %q)", name, v)
		}
	}
	return nil
}

func (c Config) Policy() Policy {
	return Policy{
		Nodes:         c.Nodes,
		Wanted:        c.WantedWriter,
		Automatic:     c.Automatic,
		SemiSync:      c.SemiSync,
		FailoverAfter: time.Duration(c.FailoverAfterSeconds * float64(time.Second)),
		GoneAfter:     time.Duration(c.GoneAfterSeconds * float64(time.Second)),
		RejoinedAfter: 30 * time.Second,
	}
}

// Secret reads a password file: letters and digits only, so it is safe inside a SQL string.
func Secret(dir, name string) (string, error) {
	raw, err := os.ReadFile(filepath.Join(dir, name))
	if err != nil {
		return "", err
	}
	v := strings.TrimRight(string(raw), "\n")
	if !passwordRe.MatchString(v) {
		return "", fmt.Errorf("%s must hold letters and digits only", filepath.Join(dir, name))
	}
	return v, nil
}
