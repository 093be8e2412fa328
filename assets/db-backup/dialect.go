package main

import (
	"fmt"
	"regexp"
	"strings"
)

// Dialect: the engine's tools and statements (MySQL 8.4+/9.x, MariaDB 10.11+/11.x).
type Dialect struct {
	Engine string
	Client string
	Dump   string
	Binlog string
}

func DialectFor(engine string) (Dialect, error) {
	switch engine {
	case "mysql":
		return Dialect{Engine: engine, Client: "mysql", Dump: "mysqldump", Binlog: "mysqlbinlog"}, nil
	case "mariadb":
		return Dialect{Engine: engine, Client: "mariadb", Dump: "mariadb-dump", Binlog: "mariadb-binlog"}, nil
	}
	return Dialect{}, fmt.Errorf("engine must be \"mysql\" or \"mariadb\" (got %q)", engine)
}

// DumpArgs: a consistent dump (one transaction; the position read under it) of the schemas,
// with the GTID position it stands at.
func (d Dialect) DumpArgs() []string {
	common := []string{"--single-transaction", "--routines", "--events", "--triggers", "--hex-blob", "--skip-dump-date"}
	if d.Engine == "mysql" {
		// --source-data takes a brief global read lock on the node dumped (never the writer) to
		// read a position that matches the snapshot; GTID_PURGED carries the GTID set.
		return append(common, "--source-data=2", "--set-gtid-purged=ON")
	}
	// MariaDB reads a snapshot-consistent position without a global lock.
	return append(common, "--master-data=2", "--gtid")
}

var (
	mysqlPosition   = regexp.MustCompile(`(?s)SET @@GLOBAL\.GTID_PURGED=(?:/\*!80000 '\+'\*/ )?'([^']*)';`)
	mariadbPosition = regexp.MustCompile(`SET GLOBAL gtid_slave_pos='([^']*)';`)
)

// DumpPosition finds the GTID position a dump stands at, in its first or last lines.
func (d Dialect) DumpPosition(head string) (string, error) {
	re := mariadbPosition
	if d.Engine == "mysql" {
		re = mysqlPosition
	}
	m := re.FindStringSubmatch(head)
	if m == nil {
		return "", fmt.Errorf("%s wrote no GTID position in the dump", d.Dump)
	}
	return strings.Join(strings.Fields(m[1]), ""), nil
}

// ResetForRestore empties a fresh node's binary logs and GTID state, so the dump's position (and
// then the archived binary logs with their own GTIDs) can be applied on it.
func (d Dialect) ResetForRestore() string {
	if d.Engine == "mysql" {
		return "RESET BINARY LOGS AND GTIDS"
	}
	return "RESET MASTER"
}

// AfterDump: statements after the dump was loaded, with the dump's position pos.
func (d Dialect) AfterDump(pos string) string {
	if d.Engine == "mysql" {
		return "" // the dump set GTID_PURGED itself
	}
	// The dump's position as the node's binlog state, so the binary logs' events continue it.
	return fmt.Sprintf("SET GLOBAL gtid_binlog_state = '%s'", pos)
}

// CurrentPosition: the GTID position a node has applied.
func (d Dialect) CurrentPosition() string {
	if d.Engine == "mysql" {
		return "SELECT @@GLOBAL.gtid_executed"
	}
	return "SELECT @@GLOBAL.gtid_binlog_pos"
}

// WriterPosition: the node's current binary log file and position.
func (d Dialect) WriterPosition() string {
	if d.Engine == "mysql" {
		return "SHOW BINARY LOG STATUS"
	}
	return "SHOW MASTER STATUS"
}

// ReplayArgs: how the binlog tool turns archived files into SQL for a restore up to stopAt
// ("YYYY-MM-DD HH:MM:SS", UTC), from position from (MariaDB: skips what is already applied;
// MySQL skips it itself, by GTID).
func (d Dialect) ReplayArgs(from, stopAt string) []string {
	args := []string{"--stop-datetime=" + stopAt}
	if d.Engine == "mariadb" && from != "" {
		args = append(args, "--start-position="+from)
	}
	return args
}

var (
	mysqlPreviousGTIDs = regexp.MustCompile(`(?s)Previous-GTIDs\n# ([^\n]*(?:\n# [^\n#]*[0-9a-f-]+:[^\n]*)*)`)
	mariadbGTIDList    = regexp.MustCompile(`Gtid list \[([^\]]*)\]`)
)

// PreviousPosition reads, from the binlog tool's text of a binary log's first events, the GTIDs
// the server had before that file ("" when none): what the file does not contain.
func (d Dialect) PreviousPosition(text string) (string, bool) {
	if d.Engine == "mysql" {
		m := mysqlPreviousGTIDs.FindStringSubmatch(text)
		if m == nil {
			return "", false
		}
		set := strings.ReplaceAll(strings.ReplaceAll(m[1], "\n# ", ""), " ", "")
		if set == "[empty]" {
			return "", true
		}
		return set, true
	}
	m := mariadbGTIDList.FindStringSubmatch(text)
	if m == nil {
		return "", false
	}
	return strings.ReplaceAll(m[1], " ", ""), true
}

// MariaDBCovers: whether position pos (a GTID list, "d-s-n,...") includes every transaction before
// prev (the same form): in each domain of prev, pos has reached at least its sequence number.
func MariaDBCovers(pos, prev string) bool {
	reached := map[string]uint64{}
	for _, g := range strings.Split(pos, ",") {
		if f := strings.Split(strings.TrimSpace(g), "-"); len(f) == 3 {
			var n uint64
			fmt.Sscan(f[2], &n)
			reached[f[0]] = max(reached[f[0]], n)
		}
	}
	for _, g := range strings.Split(prev, ",") {
		f := strings.Split(strings.TrimSpace(g), "-")
		if len(f) != 3 {
			continue
		}
		var n uint64
		fmt.Sscan(f[2], &n)
		if reached[f[0]] < n {
			return false
		}
	}
	return true
}
