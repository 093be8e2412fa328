package main

import (
	"strings"
	"testing"
)

func dialect(t *testing.T, engine string) Dialect {
	d, err := DialectFor(engine)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func TestDialectStatements(t *testing.T) {
	src := Node{Name: "web-db-replica", Host: "web-db-replica", Port: 3306}
	tls := &TLS{CA: "/etc/dws/tls/ca.pem"}
	cases := []struct {
		engine, what, got, want string
	}{
		{"mysql", "fence", dialect(t, "mysql").Fence(), "SET GLOBAL super_read_only = ON"},
		{"mariadb", "fence", dialect(t, "mariadb").Fence(), "SET GLOBAL read_only = ON"},
		{"mysql", "open", dialect(t, "mysql").Open(), "SET GLOBAL super_read_only = OFF; SET GLOBAL read_only = OFF"},
		{"mariadb", "open", dialect(t, "mariadb").Open(), "SET GLOBAL read_only = OFF"},
		{"mysql", "as writer", dialect(t, "mysql").AsWriter(true), "SET GLOBAL rpl_semi_sync_replica_enabled = OFF; SET GLOBAL rpl_semi_sync_source_enabled = ON"},
		{"mariadb", "as replica", dialect(t, "mariadb").AsReplica(true), "SET GLOBAL rpl_semi_sync_master_enabled = OFF; SET GLOBAL rpl_semi_sync_slave_enabled = ON"},
		{"mysql", "no semi-sync", dialect(t, "mysql").AsWriter(false), "DO 0"},
		{"mysql", "stop", dialect(t, "mysql").Stop() + "; " + dialect(t, "mysql").Reset(), "STOP REPLICA; RESET REPLICA ALL"},
		{"mariadb", "stop", dialect(t, "mariadb").Stop() + "; " + dialect(t, "mariadb").Reset(), "STOP SLAVE; RESET SLAVE ALL"},
		{"mysql", "wait", dialect(t, "mysql").WaitForGTIDs("x:1-5", 30), "SELECT WAIT_FOR_EXECUTED_GTID_SET('x:1-5', 30)"},
		{"mariadb", "wait", dialect(t, "mariadb").WaitForGTIDs("0-1-5", 30), "SELECT MASTER_GTID_WAIT('0-1-5', 30)"},
		{"mysql", "source", dialect(t, "mysql").ChangeSource(src, "repl", "pw", tls),
			"CHANGE REPLICATION SOURCE TO SOURCE_HOST='web-db-replica', SOURCE_PORT=3306, SOURCE_USER='repl', SOURCE_PASSWORD='pw', SOURCE_AUTO_POSITION=1, GET_SOURCE_PUBLIC_KEY=1, SOURCE_CONNECT_RETRY=2, SOURCE_RETRY_COUNT=86400, SOURCE_HEARTBEAT_PERIOD=1, SOURCE_SSL=1, SOURCE_SSL_CA='/etc/dws/tls/ca.pem', SOURCE_SSL_VERIFY_SERVER_CERT=1"},
		{"mariadb", "source", dialect(t, "mariadb").ChangeSource(src, "repl", "pw", nil),
			"CHANGE MASTER TO MASTER_HOST='web-db-replica', MASTER_PORT=3306, MASTER_USER='repl', MASTER_PASSWORD='pw', MASTER_USE_GTID=current_pos, MASTER_CONNECT_RETRY=2, MASTER_HEARTBEAT_PERIOD=1"},
		{"mysql", "stuck dumps", dialect(t, "mysql").StuckDumps("repl"), "SELECT COUNT(*) FROM performance_schema.processlist WHERE USER = 'repl' AND COMMAND = 'Killed' AND TIME >= 5"},
		{"mariadb", "stuck dumps", dialect(t, "mariadb").StuckDumps("repl"), "SELECT COUNT(*) FROM information_schema.PROCESSLIST WHERE USER = 'repl' AND COMMAND = 'Killed' AND TIME >= 5"},
		{"mysql", "tls options", strings.Join(dialect(t, "mysql").ClientTLSOptions(tls), " "), "ssl-mode=VERIFY_IDENTITY ssl-ca=/etc/dws/tls/ca.pem"},
		{"mariadb", "tls options", strings.Join(dialect(t, "mariadb").ClientTLSOptions(tls), " "), "ssl ssl-ca=/etc/dws/tls/ca.pem ssl-verify-server-cert"},
	}
	for _, c := range cases {
		if c.got != c.want {
			t.Errorf("%s %s:\n got %s\nwant %s", c.engine, c.what, c.got, c.want)
		}
	}
	if q, ok := dialect(t, "mysql").GTIDSubset("x:1-5"); !ok || q != "SELECT GTID_SUBSET('x:1-5', @@global.gtid_executed)" {
		t.Errorf("mysql GTID_SUBSET: %q %v", q, ok)
	}
	if _, ok := dialect(t, "mariadb").GTIDSubset("0-1-5"); ok {
		t.Error("mariadb has no GTID_SUBSET")
	}
	if _, err := DialectFor("postgres"); err == nil || err.Error() != `engine must be "mysql" or "mariadb" (got "postgres")` {
		t.Errorf("unknown engine: %v", err)
	}
}

func TestStateQueryAndParse(t *testing.T) {
	my := dialect(t, "mysql").StateQuery(true)
	for _, s := range []string{"performance_schema.global_status", "'Rpl_semi_sync_source_clients'", "'Rpl_semi_sync_source_status'", "gtid_executed", "@@global.rpl_semi_sync_source_enabled, @@global.rpl_semi_sync_replica_enabled"} {
		if !strings.Contains(my, s) {
			t.Errorf("mysql state query lacks %s: %s", s, my)
		}
	}
	ma := dialect(t, "mariadb").StateQuery(false)
	for _, s := range []string{"information_schema.GLOBAL_STATUS", "'RPL_SEMI_SYNC_MASTER_CLIENTS'", "@@global.gtid_binlog_pos", ", 0, 0"} {
		if !strings.Contains(ma, s) {
			t.Errorf("mariadb state query lacks %s: %s", s, ma)
		}
	}
	var v NodeView
	if err := dialect(t, "mariadb").ParseState("1\tON\t0-1-42\t0\t1\n", &v); err != nil {
		t.Fatal(err)
	}
	if !v.ReadOnly || !v.SemiSyncSourceOn || v.GTIDs != "0-1-42" || v.SemiSyncSourceEnabled || !v.SemiSyncReplicaEnabled {
		t.Errorf("parsed %+v", v)
	}
	if err := dialect(t, "mariadb").ParseState("1\tON\n", &v); err == nil {
		t.Error("a short row must be refused")
	}
}

func TestParseReplicaStatus(t *testing.T) {
	mariadb := `*************************** 1. row ***************************
                Slave_IO_State: Waiting for master to send event
                   Master_Host: web-db-primary
                   Master_Port: 3306
              Slave_IO_Running: Yes
             Slave_SQL_Running: Yes
                 Last_IO_Errno: 0
       Slave_SQL_Running_State: Slave has read all relay log; waiting for more updates
`
	r := dialect(t, "mariadb").ParseReplicaStatus(mariadb)
	if r == nil || r.SourceHost != "web-db-primary" || r.SourcePort != 3306 || r.IORunning != "Yes" || r.SQLRunning != "Yes" || !AppliedAll(r) {
		t.Errorf("mariadb: %+v", r)
	}
	mysql := `*************************** 1. row ***************************
             Replica_IO_State: Connecting to source
                  Source_Host: web-db-replica
                  Source_Port: 3306
           Replica_IO_Running: Connecting
          Replica_SQL_Running: Yes
                Last_IO_Errno: 1236
    Replica_SQL_Running_State: Waiting for dependent transaction to commit
           Executed_Gtid_Set: a:1-5,
b:1-3
`
	r = dialect(t, "mysql").ParseReplicaStatus(mysql)
	if r == nil || r.SourceHost != "web-db-replica" || r.IORunning != "Connecting" || r.LastIOErrno != 1236 || AppliedAll(r) {
		t.Errorf("mysql: %+v", r)
	}
	if r := dialect(t, "mysql").ParseReplicaStatus(""); r != nil {
		t.Errorf("no row: %+v", r)
	}
}

func TestLoadScript(t *testing.T) {
	dump := "-- MariaDB dump\n-- SET GLOBAL gtid_slave_pos='0-2-17';\nCREATE DATABASE `app`;\n"
	s, err := dialect(t, "mariadb").LoadScript([]string{"app", "dws"}, dump)
	if err != nil {
		t.Fatal(err)
	}
	want := "SET SESSION sql_log_bin = 0;\nDROP DATABASE `app`;\nDROP DATABASE `dws`;\nRESET MASTER;\n" + dump + "\nSET GLOBAL gtid_slave_pos = '0-2-17';\n"
	if s != want {
		t.Errorf("mariadb:\n%s", s)
	}
	if _, err := dialect(t, "mariadb").LoadScript(nil, "CREATE DATABASE `app`;\n"); err == nil {
		t.Error("a MariaDB dump without its position must be refused")
	}
	s, _ = dialect(t, "mysql").LoadScript([]string{"app"}, "SET @@GLOBAL.GTID_PURGED='x:1-5';\n")
	if s != "SET SESSION sql_log_bin = 0;\nDROP DATABASE `app`;\nRESET BINARY LOGS AND GTIDS;\nSET @@GLOBAL.GTID_PURGED='x:1-5';\n" {
		t.Errorf("mysql:\n%s", s)
	}
}

func TestClassify(t *testing.T) {
	cases := []struct {
		stderr   string
		timedOut bool
		want     Failure
	}{
		{"ERROR 2005 (HY000): Unknown server host 'web-db-primary' (-2)", false, Gone},
		{"ERROR 2005 (HY000): Unknown MySQL server host 'web-db-primary' (-2)", false, Gone},
		{"ERROR 2002 (HY000): Can't connect to server on '127.0.0.1' (111)", false, Refused},
		{"ERROR 2003 (HY000): Can't connect to MySQL server on 'web-db-primary:3306' (111)", false, Refused},
		{"ERROR 2003 (HY000): Can't connect to MySQL server on 'web-db-primary:3306' (110)", false, TimedOut},
		{"ERROR 2013 (HY000): Lost connection to server at 'handshake: reading initial communication packet', system error: 11", false, TimedOut},
		{"ERROR 1045 (28000): Access denied for user 'dws_failover'@'10.0.0.5' (using password: YES)", false, OtherError},
		{"", true, TimedOut},
		{"segfault", false, OtherError},
	}
	for _, c := range cases {
		if got := classify(c.stderr, c.timedOut).Failure; got != c.want {
			t.Errorf("%q: got %s, want %s", c.stderr, got, c.want)
		}
	}
}
