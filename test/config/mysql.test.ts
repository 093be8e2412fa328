import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { renderBootstrapSql, renderMyCnf } from '../../src/database/render/mysql';
import { LocalMariaDb, LocalServer, PASSWORDS as passwords, fillPasswords as fill, localNodeModel, openWriter } from './local-mariadb';
import { run } from './real-programs';

// MariaDB from Debian's packages runs our rendered my.cnf and bootstrap SQL for real: a primary
// and a replica on this host, each on a private port and data directory. (MySQL's
// `mysqld --validate-config` runs against the MySQL image in the e2e suite.)
const local = new LocalMariaDb('dws-mariadb-');

function client(s: LocalServer, sql: string, user = 'root', password = passwords.ROOT_PASSWORD) {
  const auth = user === 'root' ? ['--socket', join(s.dir, 'sock'), '-uroot'] : ['--protocol=tcp', '-h127.0.0.1', `-P${s.port}`, `-u${user}`];
  return run('mariadb', [...auth, ...(password ? [`-p${password}`] : []), '-N', '-B', '-e', sql]);
}

// Below the ephemeral port range (32768+), where an outgoing connection of a parallel test can take them.
const PRIMARY_PORT = 23061;
// Short, so the degraded write below costs the test one second.
const SEMI_SYNC_TIMEOUT_MS = 1000;
const REPLICA_PORT = 23062;
const model = (role: 'primary' | 'replica') => localNodeModel(role, PRIMARY_PORT);

describe('MariaDB runs the rendered my.cnf and bootstrap SQL', { tags: ['mariadb'] }, () => {
  let primary: LocalServer;
  let replica: LocalServer;
  /** Polls the replica (bounded: 40 × 250 ms) until the query answers want; its last answer. */
  const untilReplicaSays = async (sql: string, want: string) => {
    let seen = '';
    for (let i = 0; i < 40 && (seen = client(replica, sql).stdout.trim()) !== want; i++) await new Promise((r) => setTimeout(r, 250));
    return seen;
  };
  /** Before the primary is opened: its read_only, and an app write's result. */
  let booted: { readOnly: string; write: ReturnType<typeof client> };

  beforeAll(async () => {
    const cnf = (role: 'primary' | 'replica', serverId: number) => renderMyCnf({ engine: 'mariadb', role, serverId, port: 3306, semiSyncTimeoutMs: SEMI_SYNC_TIMEOUT_MS });
    primary = await local.start('primary', cnf('primary', 1), PRIMARY_PORT);
    replica = await local.start('replica', cnf('replica', 2), REPLICA_PORT);
    // As the entrypoint does, bootstrap without semi-sync: no replica is there to acknowledge yet.
    const bootstrap = `SET GLOBAL rpl_semi_sync_master_enabled = OFF;\n${fill(renderBootstrapSql(model('primary')))}\nSET GLOBAL rpl_semi_sync_master_enabled = ON;`;
    const p = run('mariadb', ['--socket', `${primary.dir}/sock`, '-uroot'], { input: bootstrap });
    expect(p.status, p.stderr).toBe(0);
    const r = run('mariadb', ['--socket', `${replica.dir}/sock`, '-uroot'], { input: fill(renderBootstrapSql(model('replica'))) + '\nSTART REPLICA;' });
    expect(r.status, r.stderr).toBe(0);
    // Both nodes boot read-only: nothing is written until the failover agent opens the writer.
    booted = { readOnly: client(primary, 'SELECT @@read_only').stdout.trim(), write: client(primary, 'CREATE TABLE app.early (id INT PRIMARY KEY)', 'app', passwords.APP_PASSWORD) };
    openWriter(primary);
    // The table every test below writes to, on both nodes before any test runs (each test stands alone).
    const t = client(primary, 'CREATE TABLE app.t (id INT PRIMARY KEY, v VARCHAR(10))', 'app', passwords.APP_PASSWORD);
    expect(t.status, t.stderr).toBe(0);
    expect(await untilReplicaSays("SELECT COUNT(*) FROM information_schema.TABLES WHERE TABLE_SCHEMA = 'app' AND TABLE_NAME = 't'", '1')).toBe('1');
  }, 180_000);

  afterAll(() => local.stopAll());

  it('applies the durable settings it was given', () => {
    expect(client(primary, 'SELECT @@server_id, @@sync_binlog, @@innodb_flush_log_at_trx_commit, @@binlog_format, @@gtid_strict_mode, @@log_bin').stdout.trim()).toBe('1\t1\t1\tROW\t1\t1');
    expect(client(replica, 'SELECT @@server_id, @@read_only, @@relay_log_recovery').stdout.trim()).toBe('2\t1\t1');
    // Either node may become a replica.
    expect(client(primary, 'SELECT @@relay_log_recovery, @@relay_log_basename LIKE \'%relay-bin\'').stdout.trim()).toBe('1\t1');
  });

  it('boots the primary read-only too: the app cannot write until the writer is opened', () => {
    expect(booted.readOnly).toBe('1');
    expect(booted.write.status).not.toBe(0);
    expect(booted.write.stderr).toMatch(/read-only/);
    expect(client(primary, 'SELECT @@read_only').stdout.trim()).toBe('0');
  });

  it('replicates a write by the app user to the replica with GTIDs', async () => {
    const w = client(primary, "INSERT INTO app.t VALUES (1, 'x')", 'app', passwords.APP_PASSWORD);
    expect(w.status, w.stderr).toBe(0);
    expect(await untilReplicaSays('SELECT v FROM app.t WHERE id = 1', 'x')).toBe('x');
    const status = run('mariadb', ['--socket', `${replica.dir}/sock`, '-uroot', `-p${passwords.ROOT_PASSWORD}`, '-e', 'SHOW REPLICA STATUS\\G']).stdout;
    expect(status).toMatch(/Slave_IO_Running: Yes/);
    expect(status).toMatch(/Slave_SQL_Running: Yes/);
    expect(status).toMatch(/Using_Gtid: Slave_Pos/);
    expect(status).toMatch(/Last_Error: $/m);
  });

  it('refuses writes on the replica from the app user', () => {
    const r = client(replica, "INSERT INTO app.t VALUES (2, 'y')", 'app', passwords.APP_PASSWORD);
    expect(r.status).not.toBe(0);
    expect(r.stderr).toMatch(/read-only|--read-only/);
  });

  it('limits the replication user to replication', () => {
    const grants = client(primary, "SHOW GRANTS FOR 'repl'@'localhost'").stdout;
    expect(grants.trim().split('\n')).toEqual([expect.stringMatching(/^GRANT REPLICATION SLAVE ON \*\.\* TO `repl`@`localhost` IDENTIFIED BY PASSWORD/)]);
    const app = client(primary, "SHOW GRANTS FOR 'app'@'localhost'").stdout;
    expect(app).toMatch(/GRANT USAGE ON \*\.\*/);
    expect(app).toMatch(/ON `app`\.\* TO `app`@`localhost`/);
  });

  it('creates the app, replication and failover users only for the hosts it was given', () => {
    const users = client(primary, "SELECT CONCAT(User, '@', Host) FROM mysql.user WHERE User IN ('app', 'repl', 'dws_failover') ORDER BY 1").stdout.trim();
    expect(users.split('\n')).toEqual(['app@localhost', 'dws_failover@localhost', 'repl@localhost']);
    expect(client(primary, "SELECT max_user_connections FROM mysql.user WHERE User = 'exporter'").stdout.trim()).toBe('3');
    expect(client(primary, "SELECT max_user_connections FROM mysql.user WHERE User = 'dws_failover'").stdout.trim()).toBe('10');
    // The replica has them too (replicated), so the agent can manage either node.
    expect(client(replica, "SELECT CONCAT(User, '@', Host) FROM mysql.user WHERE User = 'dws_failover'").stdout.trim()).toBe('dws_failover@localhost');
    expect(client(primary, 'SELECT @@skip_name_resolve, @@host_cache_size').stdout.trim()).toBe('0\t0');
  });

  it('lets the monitoring user read replication status on the replica, and nothing more', () => {
    const status = run('mariadb', ['--protocol=tcp', '-h127.0.0.1', `-P${replica.port}`, '-uexporter', `-p${passwords.EXPORTER_PASSWORD}`, '-e', 'SHOW REPLICA STATUS\\G']);
    expect(status.status, status.stderr).toBe(0);
    expect(status.stdout).toMatch(/Slave_SQL_Running: Yes/);
    const write = client(primary, "INSERT INTO app.t VALUES (3, 'z')", 'exporter', passwords.EXPORTER_PASSWORD);
    expect(write.status).not.toBe(0);
    expect(write.stderr).toMatch(/INSERT command denied/);
  });

  it('leaves root only on localhost, with a password, and no anonymous users', () => {
    expect(client(primary, "SELECT CONCAT(User, '@', Host) FROM mysql.user WHERE User IN ('root', '') ORDER BY 1").stdout.trim()).toBe('root@localhost');
    expect(client(primary, 'SELECT 1', 'root', '').status).not.toBe(0);
  });

  it('creates the heartbeat table and no event (the agent writes it); a heartbeat on the opened primary reaches the replica', async () => {
    for (const server of [primary, replica]) {
      expect(client(server, "SELECT COUNT(*) FROM information_schema.TABLES WHERE TABLE_SCHEMA = 'dws' AND TABLE_NAME = 'heartbeat'").stdout.trim()).toBe('1');
      expect(client(server, 'SELECT COUNT(*) FROM information_schema.EVENTS').stdout.trim()).toBe('0');
      expect(client(server, 'SELECT @@event_scheduler').stdout.trim()).toBe('OFF');
    }
    // What the agent writes to the writer every second, as the agent's account.
    const beat = client(primary, 'REPLACE INTO dws.heartbeat (server_id, ts) VALUES (0, UTC_TIMESTAMP(6)); SELECT ts FROM dws.heartbeat WHERE server_id = 0', 'dws_failover', passwords.FAILOVER_PASSWORD);
    expect(beat.status, beat.stderr).toBe(0);
    const written = beat.stdout.trim();
    expect(written).toMatch(/^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{6}$/);
    expect(await untilReplicaSays('SELECT ts FROM dws.heartbeat WHERE server_id = 0', written)).toBe(written);
    // One row: the lag a monitor reads on the replica is now minus this time.
    expect(client(replica, 'SELECT COUNT(*), TIMESTAMPDIFF(SECOND, MAX(ts), UTC_TIMESTAMP(6)) < 10 FROM dws.heartbeat').stdout.trim()).toBe('1\t1');
  });

  describe('semi-synchronous replication (AFTER_SYNC)', () => {
    // Nothing else writes here (no heartbeat event): the counts below are ours alone.
    const status = () => {
      const rows = client(primary, "SHOW GLOBAL STATUS LIKE 'Rpl_semi_sync_master_%'").stdout.trim().split('\n');
      const m = Object.fromEntries(rows.map((r) => r.split('\t')));
      return { on: m.Rpl_semi_sync_master_status, clients: Number(m.Rpl_semi_sync_master_clients), yes: Number(m.Rpl_semi_sync_master_yes_tx), no: Number(m.Rpl_semi_sync_master_no_tx) };
    };
    // One autocommit write by the app user; the server's own clock times its commit.
    let n = 100;
    const timedWrite = () => {
      const r = client(primary, `SET @t = NOW(6); INSERT INTO app.t VALUES (${n++}, 's'); SELECT TIMESTAMPDIFF(MICROSECOND, @t, NOW(6));`, 'app', passwords.APP_PASSWORD);
      expect(r.status, r.stderr).toBe(0);
      return Number(r.stdout.trim()) / 1000;
    };
    /** Waits (bounded) for semi-sync to be ON with the replica attached; a write nudges the switch back on. */
    const untilOn = async () => {
      for (let i = 0; i < 40; i++) {
        const st = status();
        if (st.on === 'ON' && st.clients === 1) return st;
        timedWrite();
        await new Promise((r) => setTimeout(r, 100));
      }
      return status();
    };

    it('is on: the primary waits AFTER_SYNC for the replica, which is its one semi-sync client', async () => {
      expect(client(primary, 'SELECT @@rpl_semi_sync_master_enabled, @@rpl_semi_sync_master_wait_point, @@rpl_semi_sync_master_timeout, @@rpl_semi_sync_slave_enabled').stdout.trim()).toBe(
        `1\tAFTER_SYNC\t${SEMI_SYNC_TIMEOUT_MS}\t0`,
      );
      expect(client(replica, 'SELECT @@rpl_semi_sync_master_enabled, @@rpl_semi_sync_slave_enabled').stdout.trim()).toBe('0\t1');
      // The replica engaged semi-sync on its first connection (set in my.cnf before it started).
      expect(client(replica, "SHOW GLOBAL STATUS LIKE 'Rpl_semi_sync_slave_status'").stdout.trim()).toBe('Rpl_semi_sync_slave_status\tON');
      const before = await untilOn();
      expect(before).toMatchObject({ on: 'ON', clients: 1 });
      const acknowledged = Math.max(timedWrite(), timedWrite(), timedWrite());
      const after = status();
      expect(after.yes - before.yes).toBe(3);
      expect(after.no).toBe(before.no);
      expect(acknowledged).toBeLessThan(SEMI_SYNC_TIMEOUT_MS / 2);
      console.log(`semi-sync (timeout ${SEMI_SYNC_TIMEOUT_MS} ms): acknowledged write ≤ ${acknowledged.toFixed(1)} ms`);
    });

    it('degrades at once, without waiting out the timeout, when the replica disconnects (wait_no_slave OFF), and recovers when it is back', async () => {
      const before = await untilOn();
      expect(before).toMatchObject({ on: 'ON', clients: 1 });
      expect(client(replica, 'STOP REPLICA IO_THREAD').status).toBe(0);
      try {
        // Bounded: the primary notices the closed connection within moments.
        for (let i = 0; i < 40 && status().clients !== 0; i++) await new Promise((r) => setTimeout(r, 100));
        expect(status().clients).toBe(0);
        // No replica to wait for (e.g. just after a failover): commit at once, asynchronously.
        const disconnected = timedWrite();
        expect(disconnected).toBeLessThan(SEMI_SYNC_TIMEOUT_MS / 2);
        console.log(`semi-sync: replica gone, write ${disconnected.toFixed(1)} ms`);
        // Counted as not acknowledged (MariaDB 10.11 may still report the status as ON here).
        const degraded = status();
        expect(degraded.no - before.no).toBe(1);
        expect(degraded.yes).toBe(before.yes);
      } finally {
        expect(client(replica, 'START REPLICA IO_THREAD').status).toBe(0);
      }
      const back = await untilOn();
      expect(back).toMatchObject({ on: 'ON', clients: 1 });
      timedWrite();
      expect(status().yes).toBe(back.yes + 1);
    });

    it('degrades to asynchronous after the timeout when a connected replica stops acknowledging, and recovers when it is back', async () => {
      const before = await untilOn();
      expect(before).toMatchObject({ on: 'ON', clients: 1 });
      // Frozen, not gone: its connection stays open, its acknowledgements stop (a hung or cut-off replica).
      expect(replica.server.proc.kill('SIGSTOP')).toBe(true);
      try {
        // The first commit waits the whole timeout for an acknowledgement that does not come...
        const degradedMs = timedWrite();
        expect(degradedMs).toBeGreaterThanOrEqual(SEMI_SYNC_TIMEOUT_MS * 0.95);
        expect(degradedMs).toBeLessThan(SEMI_SYNC_TIMEOUT_MS * 3);
        const degraded = status();
        expect(degraded.on).toBe('OFF');
        expect(degraded.no - before.no).toBe(1);
        // ...then the primary commits without waiting (asynchronously) until the replica is back.
        const asyncMs = timedWrite();
        expect(asyncMs).toBeLessThan(SEMI_SYNC_TIMEOUT_MS / 2);
        expect(status().on).toBe('OFF');
        console.log(`semi-sync: replica silent, degraded write ${degradedMs.toFixed(1)} ms, then async ${asyncMs.toFixed(1)} ms`);
      } finally {
        replica.server.proc.kill('SIGCONT');
      }
      const back = await untilOn();
      expect(back).toMatchObject({ on: 'ON', clients: 1 });
      timedWrite();
      expect(status().yes).toBe(back.yes + 1);
    });
  });
});
