import { spawn } from 'node:child_process';
import { mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { renderBootstrapSql, renderMyCnf } from '../../src/database/render/mysql';
import { LocalMariaDb, LocalServer, PASSWORDS, fillPasswords, localNodeModel, openWriter } from './local-mariadb';
import { run, start, Started } from './real-programs';

// The real backup program (assets/db-backup, built here) against a real MariaDB primary and
// replica on this host, bootstrapped by the library's own SQL: writes under load, a scheduled
// full backup from the replica while they go on, more writes, a bad DELETE at a recorded time;
// then a restore into a fresh node up to the second before it, compared row for row and by
// CHECKSUM TABLE with the source as it was. MySQL has no server package on this machine: its
// dialect is covered by the Go tests (and the e2e, once the construct lands).

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const local = new LocalMariaDb('dws-backup-');
let binary = '';
const [PRIMARY_PORT, REPLICA_PORT, RESTORE_PORT, METRICS_PORT] = [23121, 23122, 23123, 23124]; // below the ephemeral range

const root = (s: LocalServer, sql: string) => {
  const r = run('mariadb', ['--socket', join(s.dir, 'sock'), '-uroot', `-p${PASSWORDS.ROOT_PASSWORD}`, '-N', '-B', '-e', sql]);
  expect(r.status, r.stderr).toBe(0);
  return r.stdout.trim();
};

/** One INSERT as the app user over TCP; resolves to whether it was acknowledged (bounded: 15 s). */
const insert = (port: number, id: number) =>
  new Promise<boolean>((done) => {
    const c = spawn('mariadb', ['--protocol=tcp', '-h127.0.0.1', `-P${port}`, '-uapp', `-p${PASSWORDS.APP_PASSWORD}`, '--connect-timeout=2', '-e', `INSERT INTO app.orders (id, note) VALUES (${id}, REPEAT('x', 200))`], { stdio: 'ignore' });
    const timer = setTimeout(() => c.kill('SIGKILL'), 15_000);
    c.on('exit', (code) => (clearTimeout(timer), done(code === 0)));
    c.on('error', () => done(false));
  });

/** Writes one at a time, `rate` a second for `seconds` (bounded in count and time); the acknowledged ids. */
async function writes(seconds: number, rate: number, firstId: number): Promise<number[]> {
  const acked: number[] = [];
  const until = Date.now() + seconds * 1000;
  for (let id = firstId, n = 0; Date.now() < until && n < 2 * seconds * rate; id++, n++) {
    const t = Date.now();
    if (await insert(PRIMARY_PORT, id)) acked.push(id);
    await sleep(Math.max(0, 1000 / rate - (Date.now() - t)));
  }
  return acked;
}

const utcSecond = (ms: number) => new Date(Math.floor(ms / 1000) * 1000).toISOString().replace('T', ' ').slice(0, 19);

describe('the backup program against a real MariaDB pair', { tags: ['mariadb'] }, () => {
  let primary: LocalServer;
  let replica: LocalServer;
  let target: LocalServer;
  let daemon: Started | undefined;
  let config = '';
  let archive = '';
  const cli = (...args: string[]) => run(binary, [args[0], '-config', config, ...args.slice(1)], { timeoutMs: 300_000 });
  const metrics = () => run('curl', ['-sf', '--max-time', '2', `http://127.0.0.1:${METRICS_PORT}/metrics`]).stdout;
  const metric = (name: string) => Number(new RegExp(`^${name} (\\S+)$`, 'm').exec(metrics())?.[1]);

  beforeAll(async () => {
    binary = join(local.work, 'db-backup');
    const built = run('go', ['build', '-C', join(__dirname, '..', '..', 'assets', 'db-backup'), '-o', binary, '.'], { timeoutMs: 300_000 });
    expect(built.status, built.stderr).toBe(0);
    const cnf = (role: 'primary' | 'replica', id: number) => renderMyCnf({ engine: 'mariadb', role, serverId: id, port: 3306, semiSyncTimeoutMs: 2000 });
    const model = (role: 'primary' | 'replica') => localNodeModel(role, PRIMARY_PORT);
    [primary, replica, target] = await Promise.all([local.start('primary', cnf('primary', 1), PRIMARY_PORT), local.start('replica', cnf('replica', 2), REPLICA_PORT), local.start('restored', cnf('primary', 3), RESTORE_PORT)]);
    const boot = run('mariadb', ['--socket', `${primary.dir}/sock`, '-uroot'], {
      input: `${fillPasswords(renderBootstrapSql(model('primary')))}\nCREATE TABLE app.orders (id BIGINT PRIMARY KEY, note VARCHAR(255), at TIMESTAMP(6) DEFAULT CURRENT_TIMESTAMP(6));`,
    });
    expect(boot.status, boot.stderr).toBe(0);
    const rep = run('mariadb', ['--socket', `${replica.dir}/sock`, '-uroot'], { input: fillPasswords(renderBootstrapSql(model('replica'))) + '\nSTART REPLICA;' });
    expect(rep.status, rep.stderr).toBe(0);
    // The fresh node a user restores into: bootstrapped by the library as a new stack's primary is.
    const fresh = run('mariadb', ['--socket', `${target.dir}/sock`, '-uroot'], { input: fillPasswords(renderBootstrapSql(model('primary'))) });
    expect(fresh.status, fresh.stderr).toBe(0);
    openWriter(primary);

    const dir = join(local.work, 'backup');
    archive = join(dir, 'archive');
    mkdirSync(join(dir, 'secrets'), { recursive: true });
    writeFileSync(join(dir, 'secrets', 'password'), PASSWORDS.ROOT_PASSWORD);
    writeFileSync(join(dir, 'secrets', 'key'), 'a key the user owns, at least 32 characters\n');
    writeFileSync(join(dir, 'writer'), 'primary\n');
    config = join(dir, 'backup.json');
    writeFileSync(
      config,
      JSON.stringify({
        engine: 'mariadb',
        nodes: [
          { name: 'primary', host: '127.0.0.1', port: PRIMARY_PORT },
          { name: 'replica', host: '127.0.0.1', port: REPLICA_PORT },
        ],
        // As the failover agent's route file names the writer.
        writerRouteFile: join(dir, 'writer'),
        user: 'root',
        passwordFile: join(dir, 'secrets', 'password'),
        dir: archive,
        keyFile: join(dir, 'secrets', 'key'),
        schemas: ['app'],
        intervalMinutes: 1440,
        metricsAddress: `127.0.0.1:${METRICS_PORT}`,
        optionFile: join(dir, 'client.cnf'),
      }),
    );
  }, 300_000);

  afterAll(async () => {
    await daemon?.stop(2000);
    await local.stopAll();
  });

  it('restores a scheduled backup plus the streamed binary logs to the second before a bad DELETE, equal to the source as it was', async () => {
    // Writes under load; the daemon's first backup (10 s after it starts) runs in the middle of them.
    const load = writes(25, 20, 1);
    daemon = start(binary, ['run', '-config', config]);
    await daemon.until('the binlog stream runs', () => metric('dws_binlog_archive_up') === 1, 40, 250);
    const before = await load;
    expect(before.length).toBeGreaterThan(300);
    const backups = JSON.parse(cli('list').stdout) as { id: string; source: string; position: string; bytes: number; durationSeconds: number; startedAt: string; finishedAt: string }[];
    expect(backups).toHaveLength(1);
    // From the replica (read-only), never the writer; with the GTID position it stands at.
    expect(backups[0].source).toBe('replica');
    expect(backups[0].position).toMatch(/^0-1-\d+$/);
    expect(metric('dws_backup_last_success_timestamp_seconds')).toBe(Math.floor(Date.parse(backups[0].finishedAt) / 1000));
    // A write outside the backed-up schema (as the failover agent's heartbeat is): not replayed.
    root(primary, 'REPLACE INTO dws.heartbeat (server_id, ts) VALUES (0, NOW(6))');
    const after = await writes(5, 20, 100_000);
    expect(after.length).toBeGreaterThan(50);

    // A quiet moment, the source as it is, then the bad DELETE in a later second.
    await sleep(2000);
    const expected = { count: root(primary, 'SELECT COUNT(*) FROM app.orders'), checksum: root(primary, 'CHECKSUM TABLE app.orders EXTENDED').split('\t')[1], ids: root(primary, 'SELECT id FROM app.orders ORDER BY id') };
    expect(Number(expected.count)).toBe(before.length + after.length);
    const deletedAt = Date.now();
    root(primary, 'DELETE FROM app.orders WHERE id % 2 = 0');
    // The stream has the DELETE too (bounded: 10 s).
    let lag = -1;
    for (let i = 0; i < 40 && (lag = metric('dws_binlog_archive_lag_bytes')) !== 0; i++) await sleep(250);
    expect(lag).toBe(0);
    // At rest, nothing of the data is in the clear: full backups are encrypted, and so is every complete binary log.
    expect(readdirSync(join(archive, 'full')).every((f) => f.endsWith('.json') || f.endsWith('.sql.gz.enc'))).toBe(true);

    const stopAt = utcSecond(deletedAt - 1000);
    const restore = cli('restore', '-target', `127.0.0.1:${RESTORE_PORT}`, '-to', stopAt);
    expect(restore.status, restore.stdout + restore.stderr).toBe(0);
    const report = JSON.parse(restore.stdout.trim().split('\n').pop()!).report;
    console.log(`[backup] backup ${backups[0].bytes} bytes in ${backups[0].durationSeconds.toFixed(2)} s; restore to ${stopAt}: ${JSON.stringify(report)}`);
    expect(report.backup).toBe(backups[0].id);
    expect(report.binlogFiles).toBeGreaterThan(0);
    // Taken while the load went on: the backup holds some of the writes, the binary logs the rest.
    const seq = (pos: string) => Number(pos.split('-')[2]);
    expect(seq(backups[0].position)).toBeGreaterThan(50);
    expect(seq(report.position)).toBeGreaterThan(seq(backups[0].position) + 50);
    expect(root(target, 'SELECT COUNT(*) FROM app.orders')).toBe(expected.count);
    expect(root(target, 'CHECKSUM TABLE app.orders EXTENDED').split('\t')[1]).toBe(expected.checksum);
    expect(root(target, 'SELECT id FROM app.orders ORDER BY id')).toBe(expected.ids);
    expect(root(target, 'SELECT COUNT(*) FROM dws.heartbeat')).toBe('0');
    // The restored node's GTID state continues the source's: it can replicate from it, or be its source.
    expect(root(target, 'SELECT @@GLOBAL.gtid_binlog_pos')).toMatch(/^0-1-\d+$/);
  }, 180_000);

  it('refuses to back up when only the writer answers', async () => {
    await replica.server.stop(0);
    const r = cli('backup');
    expect(r.status).toBe(1);
    expect(r.stdout).toContain('no node but the writer answers: not backing up from the writer');
  }, 60_000);
});
