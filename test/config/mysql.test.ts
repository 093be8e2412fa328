import { ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DbEntrypointModel, renderBootstrapSql, renderMyCnf } from '../../src';
import { run } from './real-programs';

// MariaDB from Debian's packages runs our rendered my.cnf and bootstrap SQL for real: a primary
// and a replica on this host, each on a private port and data directory. (MySQL's
// `mysqld --validate-config` runs against the MySQL image in the e2e suite.)
const passwords = { ROOT_PASSWORD: 'Root0secret', REPLICATION_PASSWORD: 'Repl0secret', APP_PASSWORD: 'App0secret' };
const fill = (sql: string) => sql.replace(/\$\{(\w+)\}/g, (_, name: keyof typeof passwords) => passwords[name]);

interface Server {
  dir: string;
  port: number;
  proc: ChildProcess;
}

const work = mkdtempSync(join(tmpdir(), 'dws-mariadb-'));
const servers: Server[] = [];

function client(s: Server, sql: string, user = 'root', password = passwords.ROOT_PASSWORD) {
  const auth = user === 'root' ? ['--socket', join(s.dir, 'sock'), '-uroot'] : ['--protocol=tcp', '-h127.0.0.1', `-P${s.port}`, `-u${user}`];
  return run('mariadb', [...auth, ...(password ? [`-p${password}`] : []), '-N', '-B', '-e', sql]);
}

async function startServer(name: string, cnf: string, port: number): Promise<Server> {
  const dir = join(work, name);
  const cnfFile = join(work, `${name}.cnf`);
  writeFileSync(cnfFile, cnf);
  // Command-line options after the file win: keep the rendered file, move only paths and port.
  const local = [`--datadir=${dir}/data`, `--socket=${dir}/sock`, `--port=${port}`, `--pid-file=${dir}/pid`, '--bind-address=127.0.0.1', '--user=root'];
  const init = run('mariadb-install-db', [`--defaults-file=${cnfFile}`, ...local, '--auth-root-authentication-method=normal', '--skip-test-db'], { timeoutMs: 120_000 });
  expect(init.status, init.stderr).toBe(0);
  const proc = spawn('mariadbd', [`--defaults-file=${cnfFile}`, ...local, `--log-error=${dir}/error.log`], { stdio: 'ignore' });
  const s = { dir, port, proc };
  servers.push(s);
  for (let i = 0; i < 120; i++) {
    if (run('mariadb-admin', ['--socket', `${dir}/sock`, '-uroot', 'ping']).status === 0) return s;
    if (proc.exitCode !== null) break;
    await new Promise((r) => setTimeout(r, 250));
  }
  throw new Error(`mariadbd ${name} did not start: ${run('cat', [`${dir}/error.log`]).stdout}`);
}

const PRIMARY_PORT = 33061;
const REPLICA_PORT = 33062;
const model = (role: 'primary' | 'replica'): DbEntrypointModel => ({
  engine: 'mariadb',
  role,
  port: PRIMARY_PORT,
  databaseName: 'app',
  appUser: 'app',
  replicationUser: 'repl',
  primaryHost: '127.0.0.1',
  // Connections over 127.0.0.1 resolve to "localhost", as a Docker address resolves to its container.
  appUserHosts: ['localhost'],
  replicationUserHosts: ['localhost'],
});

describe('MariaDB runs the rendered my.cnf and bootstrap SQL', () => {
  let primary: Server;
  let replica: Server;

  beforeAll(async () => {
    primary = await startServer('primary', renderMyCnf({ engine: 'mariadb', role: 'primary', serverId: 1, port: 3306 }), PRIMARY_PORT);
    replica = await startServer('replica', renderMyCnf({ engine: 'mariadb', role: 'replica', serverId: 2, port: 3306 }), REPLICA_PORT);
    const p = run('mariadb', ['--socket', `${primary.dir}/sock`, '-uroot'], { input: fill(renderBootstrapSql(model('primary'))) });
    expect(p.status, p.stderr).toBe(0);
    const r = run('mariadb', ['--socket', `${replica.dir}/sock`, '-uroot'], { input: fill(renderBootstrapSql(model('replica'))) + '\nSTART REPLICA;' });
    expect(r.status, r.stderr).toBe(0);
  }, 180_000);

  afterAll(() => {
    for (const s of servers) s.proc.kill('SIGKILL');
    rmSync(work, { recursive: true, force: true });
  });

  it('applies the durable settings it was given', () => {
    expect(client(primary, 'SELECT @@server_id, @@sync_binlog, @@innodb_flush_log_at_trx_commit, @@binlog_format, @@gtid_strict_mode, @@log_bin').stdout.trim()).toBe('1\t1\t1\tROW\t1\t1');
    expect(client(replica, 'SELECT @@server_id, @@read_only, @@relay_log_recovery').stdout.trim()).toBe('2\t1\t1');
  });

  it('replicates a write by the app user to the replica with GTIDs', async () => {
    const w = client(primary, "CREATE TABLE IF NOT EXISTS app.t (id INT PRIMARY KEY, v VARCHAR(10)); INSERT INTO app.t VALUES (1, 'x');", 'app', passwords.APP_PASSWORD);
    expect(w.status, w.stderr).toBe(0);
    let seen = '';
    for (let i = 0; i < 40 && seen !== 'x'; i++) {
      seen = client(replica, 'SELECT v FROM app.t WHERE id = 1').stdout.trim();
      if (seen !== 'x') await new Promise((r) => setTimeout(r, 250));
    }
    expect(seen).toBe('x');
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

  it('creates the app and replication users only for the hosts it was given', () => {
    const users = client(primary, "SELECT CONCAT(User, '@', Host) FROM mysql.user WHERE User IN ('app', 'repl') ORDER BY 1").stdout.trim();
    expect(users.split('\n')).toEqual(['app@localhost', 'repl@localhost']);
    expect(client(primary, 'SELECT @@skip_name_resolve, @@host_cache_size').stdout.trim()).toBe('0\t0');
  });

  it('leaves root only on localhost, with a password, and no anonymous users', () => {
    expect(client(primary, "SELECT CONCAT(User, '@', Host) FROM mysql.user WHERE User IN ('root', '') ORDER BY 1").stdout.trim()).toBe('root@localhost');
    expect(client(primary, 'SELECT 1', 'root', '').status).not.toBe(0);
  });
});
