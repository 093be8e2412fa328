// Command db-backup takes the stack's database backups and restores them.
//
//	db-backup run -config backup.json        full backups on a schedule from a non-writer node,
//	                                          binary logs streamed from the writer, metrics
//	db-backup backup -config backup.json     one full backup now
//	db-backup list -config backup.json       the archive's backups (JSON)
//	db-backup restore -config backup.json -target host:port -to "YYYY-MM-DD HH:MM:SS" [-backup ID]
//	                  [-user U -password-file F]
//	                                          into a fresh node, up to that second (UTC), as the
//	                                          backup account or (a node outside the stack) as U
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strconv"
	"syscall"
	"time"
)

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: db-backup run|backup|list|restore -config FILE [...]")
		os.Exit(2)
	}
	cmd := os.Args[1]
	fs := flag.NewFlagSet(cmd, flag.ExitOnError)
	configPath := fs.String("config", "/etc/dws/backup.json", "config file")
	target := fs.String("target", "", "restore: host:port of the node to restore into")
	to := fs.String("to", "", `restore: stop before this second, "YYYY-MM-DD HH:MM:SS" UTC`)
	backupID := fs.String("backup", "", "restore: this full backup rather than the newest before -to")
	user := fs.String("user", "", "restore: log in to the target as this user (with -password-file) rather than the backup account")
	passwordFile := fs.String("password-file", "", "restore: the password of -user, in a file")
	fs.Parse(os.Args[2:])
	log := slog.New(slog.NewJSONHandler(os.Stdout, nil))
	if err := runCommand(cmd, *configPath, *target, *to, *backupID, *user, *passwordFile, log); err != nil {
		log.Error(cmd+" failed", "err", err.Error())
		os.Exit(1)
	}
}

func runCommand(cmd, configPath, target, to, backupID, user, passwordFile string, log *slog.Logger) error {
	cfg, err := LoadConfig(configPath)
	if err != nil {
		return err
	}
	if user != "" || passwordFile != "" {
		if cmd != "restore" || user == "" || passwordFile == "" {
			return fmt.Errorf("-user and -password-file go together, with restore only")
		}
		// A node outside the stack: its own account, and TLS as its client defaults have it.
		cfg.User, cfg.PasswordFile, cfg.OptionFile, cfg.TLSOptions = user, passwordFile, cfg.OptionFile+".restore", nil
	}
	client, err := cfg.Client()
	if err != nil {
		return err
	}
	key, err := ReadKey(cfg.KeyFile)
	if err != nil {
		return err
	}
	archive := Archive{Dir: cfg.Dir}
	backuper := Backuper{Client: client, Archive: archive, Key: key, Nodes: cfg.Nodes, Schemas: cfg.Schemas, Timeout: time.Duration(cfg.TimeoutMinutes) * time.Minute}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	switch cmd {
	case "backup":
		m, err := backuper.Run(ctx, time.Now)
		if err != nil {
			return err
		}
		removed, err := backuper.Prune(cfg.Retention)
		log.Info("backup done", "id", m.ID, "source", m.Source, "bytes", m.Bytes, "seconds", m.DurationSeconds, "position", m.Position, "pruned", removed)
		return err
	case "list":
		backups, err := archive.Backups()
		if err != nil {
			return err
		}
		return json.NewEncoder(os.Stdout).Encode(backups)
	case "restore":
		host, portText, err := net.SplitHostPort(target)
		port, perr := strconv.Atoi(portText)
		if err != nil || perr != nil {
			return fmt.Errorf("-target must be host:port (got %q)", target)
		}
		stopAt, err := time.ParseInLocation(TimeLayout, to, time.UTC)
		if err != nil {
			return fmt.Errorf(`-to must be "YYYY-MM-DD HH:MM:SS" (UTC) (got %q)`, to)
		}
		if len(cfg.Schemas) != 1 {
			return fmt.Errorf("restore replays one schema's binary logs; the config has %d", len(cfg.Schemas))
		}
		rep, err := Restorer{Client: client, Archive: archive, Key: key, Schema: cfg.Schemas[0]}.Restore(ctx, Endpoint{Name: host, Host: host, Port: port}, stopAt, backupID)
		if err != nil {
			return err
		}
		log.Info("restore done", "report", rep)
		return nil
	case "run":
		return daemon(ctx, cfg, client, key, backuper, log)
	}
	return fmt.Errorf("unknown command %q: run, backup, list or restore", cmd)
}

// daemon: the scheduler, the binlog archiver and the metrics endpoint, until stopped.
func daemon(ctx context.Context, cfg Config, client Client, key Key, backuper Backuper, log *slog.Logger) error {
	metrics := &Metrics{}
	if cfg.WriterRouteFile != "" {
		archiver := &Archiver{Client: client, Archive: backuper.Archive, Key: key, Writer: RouteFileWriter(cfg.WriterRouteFile, cfg.Nodes), ServerID: cfg.BinlogServerID, Log: log, lagBytes: -1}
		metrics.archiver = archiver
		go archiver.Run(ctx)
	}
	if cfg.MetricsAddress != "" {
		mux := http.NewServeMux()
		mux.HandleFunc("/metrics", func(w http.ResponseWriter, _ *http.Request) { fmt.Fprint(w, metrics.Render()) })
		mux.HandleFunc("/healthz", func(w http.ResponseWriter, _ *http.Request) { fmt.Fprintln(w, "ok") })
		srv := &http.Server{Addr: cfg.MetricsAddress, Handler: mux, ReadHeaderTimeout: 5 * time.Second}
		go func() {
			if err := srv.ListenAndServe(); err != nil && err != http.ErrServerClosed {
				log.Error("metrics endpoint", "err", err.Error())
			}
		}()
		defer srv.Close()
	}
	interval := time.Duration(cfg.IntervalMinutes) * time.Minute
	next := time.Now().Add(10 * time.Second)
	if backups, err := backuper.Archive.Backups(); err == nil && len(backups) > 0 {
		last := backups[len(backups)-1]
		metrics.Succeeded(last)
		if due := last.StartedAt.Add(interval); due.After(next) {
			next = due
		}
	}
	log.Info("backups scheduled", "next", next.UTC().Format(time.RFC3339), "intervalMinutes", cfg.IntervalMinutes)
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(time.Until(next)):
		}
		m, err := backuper.Run(ctx, time.Now)
		if err != nil {
			metrics.Failed()
			log.Error("backup failed", "err", err.Error())
			// Sooner than the interval: the next node may answer (a failover in progress).
			next = time.Now().Add(min(interval, time.Minute))
			continue
		}
		metrics.Succeeded(m)
		removed, err := backuper.Prune(cfg.Retention)
		if err != nil {
			log.Warn("pruning failed", "err", err.Error())
		}
		log.Info("backup done", "id", m.ID, "source", m.Source, "bytes", m.Bytes, "seconds", m.DurationSeconds, "position", m.Position, "pruned", removed)
		next = m.StartedAt.Add(interval)
	}
}
