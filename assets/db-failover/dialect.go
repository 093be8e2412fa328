package main

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
)

// Dialect is everything the agent says to a server that differs between MySQL (8.4+, 9.x) and
// MariaDB (10.11+, 11.x): statements, status names, tools. The rest of the agent is the same.
type Dialect struct {
	Engine string
	// Client and Dump: the engine's own command-line client and logical dump tool.
	Client, Dump string
	semiSource   string // the semi-sync plugin's name for each side
	semiReplica  string
	thread       string // REPLICA or SLAVE
	processlist  string
	statusTable  string
	mysql        bool
}

// DialectFor returns the dialect of "mysql" or "mariadb".
func DialectFor(engine string) (Dialect, error) {
	switch engine {
	case "mysql":
		return Dialect{Engine: engine, Client: "mysql", Dump: "mysqldump", semiSource: "source", semiReplica: "replica", thread: "REPLICA",
			processlist: "performance_schema.processlist", statusTable: "performance_schema.global_status", mysql: true}, nil
	case "mariadb":
		return Dialect{Engine: engine, Client: "mariadb", Dump: "mariadb-dump", semiSource: "master", semiReplica: "slave", thread: "SLAVE",
			processlist: "information_schema.PROCESSLIST", statusTable: "information_schema.GLOBAL_STATUS"}, nil
	}
	return Dialect{}, fmt.Errorf("engine must be \"mysql\" or \"mariadb\" (got %q)", engine)
}

func (d Dialect) status(name string) string {
	if !d.mysql {
		name = strings.ToUpper(name)
	}
	return fmt.Sprintf("(SELECT VARIABLE_VALUE FROM %s WHERE VARIABLE_NAME = '%s')", d.statusTable, name)
}

// StateQuery returns one row: read_only, semi-sync source status (OFF with no semi-sync replica
// connected: MariaDB may say ON then), the executed GTIDs, and whether the node is enabled as
// semi-sync source and as semi-sync replica (0 0 without the plugins).
func (d Dialect) StateQuery(semiSync bool) string {
	clients := d.status("Rpl_semi_sync_" + d.semiSource + "_clients")
	status := d.status("Rpl_semi_sync_" + d.semiSource + "_status")
	gtids := "@@global.gtid_binlog_pos"
	if d.mysql {
		gtids = `REPLACE(@@global.gtid_executed, '\n', '')`
	}
	roles := "0, 0"
	if semiSync {
		roles = fmt.Sprintf("@@global.rpl_semi_sync_%s_enabled, @@global.rpl_semi_sync_%s_enabled", d.semiSource, d.semiReplica)
	}
	return fmt.Sprintf("SELECT @@global.read_only, IF(IFNULL(%s, 0) > 0, IFNULL(%s, 'OFF'), 'OFF'), %s, %s", clients, status, gtids, roles)
}

// ParseState reads StateQuery's row into v.
func (d Dialect) ParseState(row string, v *NodeView) error {
	f := strings.Split(strings.TrimRight(row, "\n"), "\t")
	if len(f) != 5 {
		return fmt.Errorf("state: expected 5 tab-separated fields, got %q", row)
	}
	v.ReadOnly = f[0] == "1"
	v.SemiSyncSourceOn = f[1] == "ON"
	v.GTIDs = f[2]
	v.SemiSyncSourceEnabled = f[3] == "1"
	v.SemiSyncReplicaEnabled = f[4] == "1"
	return nil
}

// Fence makes a node read-only for everyone (MySQL: super_read_only; MariaDB has read_only only,
// which the agent's and replication's privileges pass).
func (d Dialect) Fence() string {
	if d.mysql {
		return "SET GLOBAL super_read_only = ON"
	}
	return "SET GLOBAL read_only = ON"
}

// Open makes a node writable.
func (d Dialect) Open() string {
	if d.mysql {
		return "SET GLOBAL super_read_only = OFF; SET GLOBAL read_only = OFF"
	}
	return "SET GLOBAL read_only = OFF"
}

func (d Dialect) semi(on, off string, semiSync bool) string {
	if !semiSync {
		return "DO 0"
	}
	return fmt.Sprintf("SET GLOBAL rpl_semi_sync_%s_enabled = OFF; SET GLOBAL rpl_semi_sync_%s_enabled = ON", off, on)
}

// AsWriter and AsReplica set the node's semi-sync role.
func (d Dialect) AsWriter(semiSync bool) string { return d.semi(d.semiSource, d.semiReplica, semiSync) }
func (d Dialect) AsReplica(semiSync bool) string {
	return d.semi(d.semiReplica, d.semiSource, semiSync)
}

// RestartSemiSyncSource turns the semi-sync source off and on, which restarts its ack receiver.
func (d Dialect) RestartSemiSyncSource() string { return d.semi(d.semiSource, d.semiSource, true) }

func (d Dialect) Stop() string      { return "STOP " + d.thread }
func (d Dialect) StopIO() string    { return "STOP " + d.thread + " IO_THREAD" }
func (d Dialect) StartIO() string   { return "START " + d.thread + " IO_THREAD" }
func (d Dialect) Start() string     { return "START " + d.thread }
func (d Dialect) Reset() string     { return "RESET " + d.thread + " ALL" }
func (d Dialect) RestartIO() string { return d.StopIO() + "; START " + d.thread + " IO_THREAD" }

// StuckDumps counts the replication user's connections killed 5 s ago or more and still there.
func (d Dialect) StuckDumps(replicationUser string) string {
	return fmt.Sprintf("SELECT COUNT(*) FROM %s WHERE USER = '%s' AND COMMAND = 'Killed' AND TIME >= 5", d.processlist, replicationUser)
}

// WaitForGTIDs waits up to seconds for the node to have executed gtids; WaitedOK reads its result.
func (d Dialect) WaitForGTIDs(gtids string, seconds int) string {
	if d.mysql {
		return fmt.Sprintf("SELECT WAIT_FOR_EXECUTED_GTID_SET('%s', %d)", gtids, seconds)
	}
	return fmt.Sprintf("SELECT MASTER_GTID_WAIT('%s', %d)", gtids, seconds)
}

// WaitedOK: 0 once applied; MySQL says 1 and MariaDB -1 on timeout.
func (d Dialect) WaitedOK(out string) bool { return strings.TrimSpace(out) == "0" }

// GTIDSubset asks the writer whether the node's GTIDs are all in its own (MySQL). MariaDB has no
// such function: there the writer (gtid_strict_mode) refuses a diverged node's position with
// error 1236 when it connects.
func (d Dialect) GTIDSubset(gtids string) (string, bool) {
	if !d.mysql {
		return "", false
	}
	return fmt.Sprintf("SELECT GTID_SUBSET('%s', @@global.gtid_executed)", gtids), true
}

// TLS to the nodes: the CA every server certificate is signed by.
type TLS struct {
	CA string `json:"ca"`
}

// ChangeSource points a node at a source. MariaDB: current_pos, so a former writer asks for what
// follows its own last transaction, and the writer (gtid_strict_mode) refuses with error 1236 if
// that transaction is not in its log.
func (d Dialect) ChangeSource(src Node, user, password string, tls *TLS) string {
	if d.mysql {
		s := fmt.Sprintf("CHANGE REPLICATION SOURCE TO SOURCE_HOST='%s', SOURCE_PORT=%d, SOURCE_USER='%s', SOURCE_PASSWORD='%s', SOURCE_AUTO_POSITION=1, GET_SOURCE_PUBLIC_KEY=1, SOURCE_CONNECT_RETRY=2, SOURCE_RETRY_COUNT=86400, SOURCE_HEARTBEAT_PERIOD=1",
			src.Host, src.Port, user, password)
		if tls != nil {
			s += fmt.Sprintf(", SOURCE_SSL=1, SOURCE_SSL_CA='%s', SOURCE_SSL_VERIFY_SERVER_CERT=1", tls.CA)
		}
		return s
	}
	s := fmt.Sprintf("CHANGE MASTER TO MASTER_HOST='%s', MASTER_PORT=%d, MASTER_USER='%s', MASTER_PASSWORD='%s', MASTER_USE_GTID=current_pos, MASTER_CONNECT_RETRY=2, MASTER_HEARTBEAT_PERIOD=1",
		src.Host, src.Port, user, password)
	if tls != nil {
		s += fmt.Sprintf(", MASTER_SSL=1, MASTER_SSL_CA='%s', MASTER_SSL_VERIFY_SERVER_CERT=1", tls.CA)
	}
	return s
}

// ClientTLSOptions are the client's option-file lines for verified TLS.
func (d Dialect) ClientTLSOptions(tls *TLS) []string {
	if tls == nil {
		return nil
	}
	if d.mysql {
		return []string{"ssl-mode=VERIFY_IDENTITY", "ssl-ca=" + tls.CA}
	}
	return []string{"ssl", "ssl-ca=" + tls.CA, "ssl-verify-server-cert"}
}

var replicaField = regexp.MustCompile(`(?m)^\s*([A-Za-z_]+): ?(.*)$`)

// ParseReplicaStatus reads SHOW REPLICA STATUS in vertical form (\G); nil when the node
// replicates from nobody (no row). MySQL says Source/Replica, MariaDB Master/Slave.
func (d Dialect) ParseReplicaStatus(out string) *ReplicaStatus {
	fields := map[string]string{}
	for _, m := range replicaField.FindAllStringSubmatch(out, -1) {
		fields[m[1]] = strings.TrimSpace(m[2])
	}
	pick := func(names ...string) string {
		for _, n := range names {
			if v, ok := fields[n]; ok {
				return v
			}
		}
		return ""
	}
	host := pick("Source_Host", "Master_Host")
	if len(fields) == 0 || host == "" {
		return nil
	}
	port, _ := strconv.Atoi(pick("Source_Port", "Master_Port"))
	errno, _ := strconv.Atoi(pick("Last_IO_Errno"))
	return &ReplicaStatus{
		SourceHost:  host,
		SourcePort:  port,
		IORunning:   pick("Replica_IO_Running", "Slave_IO_Running"),
		SQLRunning:  pick("Replica_SQL_Running", "Slave_SQL_Running"),
		SQLState:    pick("Replica_SQL_Running_State", "Slave_SQL_Running_State"),
		LastIOErrno: errno,
	}
}

// AppliedAll: the applier has executed everything the receiver wrote to the relay log.
func AppliedAll(r *ReplicaStatus) bool {
	return r == nil || strings.Contains(r.SQLState, "has read all relay log")
}

// SystemSchemas are never dumped nor dropped by a rebuild.
const userSchemas = "SELECT schema_name FROM information_schema.schemata WHERE schema_name NOT IN ('mysql', 'sys', 'information_schema', 'performance_schema')"

// DumpArgs: a consistent dump with the source's GTID position in it.
func (d Dialect) DumpArgs() []string {
	args := []string{"--single-transaction", "--routines", "--events", "--triggers"}
	if d.mysql {
		return append(args, "--set-gtid-purged=ON")
	}
	return append(args, "--gtid", "--master-data=2")
}

var mariadbDumpPosition = regexp.MustCompile(`(?m)^-- SET GLOBAL gtid_slave_pos='([^']*)';$`)

// LoadScript wraps a dump for loading into a node being rebuilt: its own databases dropped first,
// nothing of it logged, its GTID history replaced by the source's.
func (d Dialect) LoadScript(dropSchemas []string, dump string) (string, error) {
	var b strings.Builder
	b.WriteString("SET SESSION sql_log_bin = 0;\n")
	for _, s := range dropSchemas {
		fmt.Fprintf(&b, "DROP DATABASE `%s`;\n", strings.ReplaceAll(s, "`", "``"))
	}
	if d.mysql {
		// The dump sets GTID_PURGED itself.
		b.WriteString("RESET BINARY LOGS AND GTIDS;\n")
		b.WriteString(dump)
		return b.String(), nil
	}
	m := mariadbDumpPosition.FindStringSubmatch(dump)
	if m == nil {
		return "", fmt.Errorf("the dump has no gtid_slave_pos line")
	}
	b.WriteString("RESET MASTER;\n")
	b.WriteString(dump)
	fmt.Fprintf(&b, "\nSET GLOBAL gtid_slave_pos = '%s';\n", m[1])
	return b.String(), nil
}

// Heartbeat is the row the agent writes to the writer every second (replication lag, measured
// on the replica as now minus the row's time).
func Heartbeat(database, table string) string {
	return fmt.Sprintf("REPLACE INTO %s.%s (server_id, ts) VALUES (0, UTC_TIMESTAMP(6))", database, table)
}
