import { spawn } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { renderBootstrapSql, renderMyCnf } from '../../src/database/render/mysql';
import { LocalMariaDb, LocalServer, PASSWORDS, fillPasswords, localNodeModel } from './local-mariadb';
import { run, start, Started } from './real-programs';

// The real failover agent (the Go program in assets/db-failover, built here) against real MariaDB
// pairs on this host, with the faults injected: each test gets a fresh primary and replica
// bootstrapped by the library's own SQL, an agent, and writes through the node the agent routes
// writes to (as the router does). MySQL has no server package on this machine: its dialect is
// covered by the Go tests and the e2e.

const SEMI_SYNC_TIMEOUT_MS = 5000;
const AGENT = { failoverAfterSeconds: 2, goneAfterSeconds: 1, probeIntervalMs: 250, probeTimeoutMs: 1000, lookupTimeoutMs: 500, switchoverDrainMs: 500, catchUpTimeoutSeconds: 10 };
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

const local = new LocalMariaDb('dws-agent-');
let binary = '';
let nextPort = 23100; // below the ephemeral port range, which outgoing connections use

beforeAll(() => {
  binary = join(local.work, 'db-failover');
  const r = run('go', ['build', '-C', join(__dirname, '..', '..', 'assets', 'db-failover'), '-o', binary, '.'], { timeoutMs: 300_000 });
  expect(r.status, r.stderr).toBe(0);
}, 300_000);
afterAll(() => local.stopAll());

const root = (s: LocalServer, sql: string) => run('mariadb', ['--socket', join(s.dir, 'sock'), '-uroot', `-p${PASSWORDS.ROOT_PASSWORD}`, '-N', '-B', '-e', sql]);
const replicaStatus = (s: LocalServer) => run('mariadb', ['--socket', join(s.dir, 'sock'), '-uroot', `-p${PASSWORDS.ROOT_PASSWORD}`, '-E', '-e', 'SHOW REPLICA STATUS']).stdout;

interface Pair {
  readonly name: string;
  readonly nodes: Record<'primary' | 'replica', LocalServer>;
  readonly dir: string;
  readonly config: string;
  agent: Started;
  /** Whose name is in a route file ("writer", "reader", "state", "lost"). */
  route(file: string): string;
  /** The agent's log lines (JSON) so far, of this and earlier agent processes. */
  log(): { event: string; msg: string; refusal?: string }[];
  metrics(): string;
  startAgent(overrides?: object): void;
}

/** A primary and a replica, replicating semi-synchronously, and an agent that has opened the primary. */
async function pair(name: string): Promise<Pair> {
  const [pPort, rPort, mPort] = [nextPort++, nextPort++, nextPort++];
  const model = (role: 'primary' | 'replica') => localNodeModel(role, pPort);

  const cnf = (role: 'primary' | 'replica', id: number) => renderMyCnf({ engine: 'mariadb', role, serverId: id, port: 3306, semiSyncTimeoutMs: SEMI_SYNC_TIMEOUT_MS });
  const primary = await local.start(`${name}-primary`, cnf('primary', 1), pPort);
  const replica = await local.start(`${name}-replica`, cnf('replica', 2), rPort);
  const boot = run('mariadb', ['--socket', `${primary.dir}/sock`, '-uroot'], {
    input: `SET GLOBAL rpl_semi_sync_master_enabled = OFF;\n${fillPasswords(renderBootstrapSql(model('primary')))}\nSET GLOBAL rpl_semi_sync_master_enabled = ON;\nCREATE TABLE app.drill (id BIGINT PRIMARY KEY);`,
  });
  expect(boot.status, boot.stderr).toBe(0);
  const rep = run('mariadb', ['--socket', `${replica.dir}/sock`, '-uroot'], { input: fillPasswords(renderBootstrapSql(model('replica'))) + '\nSTART REPLICA;' });
  expect(rep.status, rep.stderr).toBe(0);

  const dir = join(local.work, `${name}-agent`);
  for (const d of ['routes', 'secrets', 'work']) mkdirSync(join(dir, d), { recursive: true });
  writeFileSync(join(dir, 'secrets', 'failover-password'), PASSWORDS.FAILOVER_PASSWORD);
  writeFileSync(join(dir, 'secrets', 'replication-password'), PASSWORDS.REPLICATION_PASSWORD);
  const config = join(dir, 'failover.json');
  const base = {
    engine: 'mariadb',
    nodes: [
      { name: 'primary', host: '127.0.0.1', port: pPort },
      { name: 'replica', host: '127.0.0.1', port: rPort },
    ],
    wantedWriter: 'primary',
    automatic: true,
    semiSync: true,
    ...AGENT,
    rebuildTimeoutSeconds: 120,
    replicationUser: 'repl',
    agentUser: 'dws_failover',
    secretsDir: join(dir, 'secrets'),
    routeDir: join(dir, 'routes'),
    heartbeat: { database: 'dws', table: 'heartbeat' },
    metricsAddress: `127.0.0.1:${mPort}`,
    workDir: join(dir, 'work'),
  };
  let earlier = '';
  const p: Pair = {
    name,
    nodes: { primary, replica },
    dir,
    config,
    agent: undefined as unknown as Started,
    route: (file) => {
      try {
        return readFileSync(join(dir, 'routes', file), 'utf8').trim();
      } catch {
        return '';
      }
    },
    log: () =>
      (earlier + p.agent.output())
        .split('\n')
        .filter((l) => l.startsWith('{'))
        .map((l) => JSON.parse(l)),
    metrics: () => run('curl', ['-sf', '--max-time', '2', `http://127.0.0.1:${mPort}/metrics`]).stdout,
    startAgent: (overrides = {}) => {
      if (p.agent) earlier += p.agent.output();
      writeFileSync(config, JSON.stringify({ ...base, ...overrides }));
      p.agent = start(binary, ['-config', config]);
    },
  };
  p.startAgent();
  await p.agent.until('the agent routes writes to the primary', () => p.route('writer') === 'primary' && p.route('reader') === 'replica', 80, 250);
  return p;
}

/** Runs a case on a fresh pair; stops its agent after, whatever happened (DWS_AGENT_LOG=1 prints its log). */
async function withPair(name: string, fn: (p: Pair) => Promise<void>) {
  const p = await pair(name);
  try {
    await fn(p);
  } finally {
    await p.agent?.stop(2000);
    if (process.env.DWS_AGENT_LOG) console.log(`[${p.name}] agent log:\n${p.log().map((l) => JSON.stringify(l)).join('\n')}`);
  }
}

/** The port of the node a route file names. */
const portOf = (p: Pair, node: string) => (node === 'primary' ? p.nodes.primary.port : node === 'replica' ? p.nodes.replica.port : 0);

/** One INSERT as the app user on a node's port; resolves to whether it was acknowledged. */
const insert = (port: number, id: number) =>
  new Promise<boolean>((done) => {
    if (!port) return done(false);
    const c = spawn('mariadb', ['--protocol=tcp', '-h127.0.0.1', `-P${port}`, '-uapp', `-p${PASSWORDS.APP_PASSWORD}`, '--connect-timeout=2', '-e', `INSERT INTO app.drill (id) VALUES (${id})`], { stdio: 'ignore' });
    const timer = setTimeout(() => c.kill('SIGKILL'), 15_000);
    c.on('exit', (code) => {
      clearTimeout(timer);
      done(code === 0);
    });
    c.on('error', () => done(false));
  });

interface Load {
  acked: number[];
  failed: number;
  /** Acknowledgement times (ms since epoch), in order. */
  at: number[];
}

/** Writes one at a time to the routed writer, `rate` a second for `seconds` (bounded in count and time). */
async function writes(p: Pair, seconds: number, rate: number, firstId: number): Promise<Load> {
  const load: Load = { acked: [], failed: 0, at: [] };
  const until = Date.now() + seconds * 1000;
  for (let id = firstId, n = 0; Date.now() < until && n < 2 * seconds * rate; id++, n++) {
    const t = Date.now();
    if (await insert(portOf(p, p.route('writer')), id)) {
      load.acked.push(id);
      load.at.push(Date.now());
    } else load.failed++;
    await sleep(Math.max(0, 1000 / rate - (Date.now() - t)));
  }
  return load;
}

/** The longest time without an acknowledged write from `from` to the end of the window. */
const longestGap = (l: Load, from: number, end: number) => {
  const times = [from, ...l.at.filter((t) => t > from), end];
  return Math.max(...times.slice(1).map((t, i) => t - times[i]));
};

/** The acknowledged ids a node does not have. */
function missing(s: LocalServer, acked: number[]) {
  const have = new Set(root(s, 'SELECT id FROM app.drill').stdout.split('\n').filter(Boolean).map(Number));
  return acked.filter((id) => !have.has(id));
}

/** The acknowledged ids a replica still lacks after catching up (bounded: 30 s). */
async function missingAfterCatchUp(s: LocalServer, acked: number[]) {
  let lacking = missing(s, acked);
  for (let i = 0; i < 120 && lacking.length; i++) {
    await sleep(250);
    lacking = missing(s, acked);
  }
  return lacking;
}

/** Until the node replicates from the other with both threads running (bounded). */
async function replicatesFrom(s: LocalServer, source: LocalServer, seconds = 60) {
  for (let i = 0; i < seconds * 4; i++) {
    const st = replicaStatus(s);
    if (new RegExp(`Master_Port: ${source.port}$`, 'm').test(st) && /Slave_IO_Running: Yes/.test(st) && /Slave_SQL_Running: Yes/.test(st)) return true;
    await sleep(250);
  }
  console.log(`${s.dir} does not replicate from ${source.dir}:\n${replicaStatus(s)}`);
  return false;
}

const kill = (s: LocalServer, signal: NodeJS.Signals) => process.kill(s.server.proc.pid!, signal);
const msgs = (p: Pair) => p.log().map((l) => l.msg);

describe('the failover agent against real MariaDB pairs, faults injected', { tags: ['mariadb'] }, () => {
  it('writer killed (SIGKILL, stays down): the replica is promoted after afterSeconds, no acknowledged write lost; the old writer started again rejoins as its replica', () =>
    withPair('killed', async (p) => {
      const writing = writes(p, 10, 20, 1);
      await sleep(2000);
      const killedAt = Date.now();
      kill(p.nodes.primary, 'SIGKILL');
      const w = await writing;
      const end = Date.now();
      expect(p.route('writer')).toBe('replica');
      expect(p.route('state')).toBe('replica');
      expect(p.route('lost')).toBe('primary');
      expect(w.acked.length).toBeGreaterThan(40);
      expect(missing(p.nodes.replica, w.acked)).toEqual([]);
      // Refused connections count as a restarting server: waited for afterSeconds (2 s) first.
      const resumedAfter = w.at.find((t) => t > killedAt)! - killedAt;
      expect(resumedAfter).toBeGreaterThanOrEqual(1500); // counted from the last good probe, up to one interval before the kill
      expect(resumedAfter).toBeLessThan(5000);
      expect(longestGap(w, killedAt, end)).toBeLessThan(5000);
      expect(msgs(p).some((m) => /^failover: primary unreachable for [2-5](\.\d)?s; promoting replica$/.test(m))).toBe(true);
      expect(msgs(p)).toContain('failover: replica is the writer');
      expect(p.metrics()).toMatch(/^dws_failover_failovers_total 1$/m);
      expect(p.metrics()).toMatch(/^dws_failover_writer\{node="replica"\} 1$/m);

      await local.restart(p.nodes.primary);
      expect(await replicatesFrom(p.nodes.primary, p.nodes.replica)).toBe(true);
      expect(await missingAfterCatchUp(p.nodes.primary, w.acked)).toEqual([]);
      expect(p.route('writer')).toBe('replica');
      expect(root(p.nodes.primary, 'SELECT @@read_only').stdout.trim()).toBe('1');
    }), 120_000);

  it('writer hung (SIGSTOP): the replica is promoted; resumed, the old writer is fenced and rejoins (rebuilt if it kept an unacknowledged write)', () =>
    withPair('hung', async (p) => {
      try {
        const writing = writes(p, 12, 20, 1);
        await sleep(2000);
        const hungAt = Date.now();
        kill(p.nodes.primary, 'SIGSTOP');
        const w = await writing;
        expect(p.route('writer')).toBe('replica');
        expect(missing(p.nodes.replica, w.acked)).toEqual([]);
        expect(longestGap(w, hungAt, Date.now())).toBeLessThan(7000);
        expect(msgs(p).some((m) => /^failover: primary unreachable for [2-5](\.\d)?s; promoting replica$/.test(m))).toBe(true);
        kill(p.nodes.primary, 'SIGCONT');
        expect(await replicatesFrom(p.nodes.primary, p.nodes.replica)).toBe(true);
        expect(root(p.nodes.primary, 'SELECT @@read_only').stdout.trim()).toBe('1');
        expect(msgs(p)).toContain('primary fenced (read-only)');
        expect(await missingAfterCatchUp(p.nodes.primary, w.acked)).toEqual([]);
      } finally {
        kill(p.nodes.primary, 'SIGCONT');
      }
    }), 120_000);

  it('replica hung for 8 s: writes go on after the semi-sync timeout, reads move to the writer and back, nothing fails over', () =>
    withPair('replica-hung', async (p) => {
      try {
        const writing = writes(p, 16, 20, 1);
        await sleep(2000);
        const hungAt = Date.now();
        kill(p.nodes.replica, 'SIGSTOP');
        let readerDuring = '';
        for (let i = 0; i < 20 && readerDuring !== 'primary'; i++) {
          await sleep(250);
          readerDuring = p.route('reader');
        }
        await sleep(Math.max(0, 8000 - (Date.now() - hungAt)));
        kill(p.nodes.replica, 'SIGCONT');
        const w = await writing;
        expect(readerDuring).toBe('primary');
        expect(p.route('writer')).toBe('primary');
        // One semi-sync wait (5 s), then asynchronous: writes went on during the outage.
        expect(longestGap(w, hungAt, Date.now())).toBeLessThan(SEMI_SYNC_TIMEOUT_MS + 2000);
        expect(w.at.filter((t) => t > hungAt + SEMI_SYNC_TIMEOUT_MS + 1000 && t < hungAt + 8000).length).toBeGreaterThan(10);
        expect(missing(p.nodes.primary, w.acked)).toEqual([]);
        expect(await replicatesFrom(p.nodes.replica, p.nodes.primary)).toBe(true);
        for (let i = 0; i < 40 && p.route('reader') !== 'replica'; i++) await sleep(250);
        expect(p.route('reader')).toBe('replica');
        expect(p.log().filter((l) => l.event === 'failover')).toEqual([]);
      } finally {
        kill(p.nodes.replica, 'SIGCONT');
      }
    }), 120_000);

  it('semi-sync degraded, then the writer lost: no promotion, the log and the metrics say why; the writer back is opened again', () =>
    withPair('degraded', async (p) => {
      root(p.nodes.replica, 'STOP REPLICA IO_THREAD');
      for (let i = 0; i < 20 && !msgs(p).length; i++) await sleep(250);
      await sleep(1000);
      kill(p.nodes.primary, 'SIGKILL');
      await sleep(4000);
      expect(p.route('state')).toBe('primary');
      expect(p.route('lost')).toBe('');
      expect(root(p.nodes.replica, 'SELECT @@read_only').stdout.trim()).toBe('1');
      expect(p.log().filter((l) => l.event === 'refusal').map((l) => [l.msg, l.refusal])).toContainEqual([
        expect.stringMatching(/^primary unreachable for 2(\.\d)?s; not promoting replica: when last seen, (semi-sync was off on primary|replica did not replicate from primary)$/),
        expect.stringMatching(/^(semi_sync_off|not_replicating)$/),
      ]);
      expect(p.metrics()).toMatch(/^dws_failover_refusals_total\{reason="(semi_sync_off|not_replicating)"\} [1-9]\d*$/m);
      expect(p.metrics()).toMatch(/^dws_failover_failovers_total 0$/m);
      await local.restart(p.nodes.primary);
      for (let i = 0; i < 40 && root(p.nodes.primary, 'SELECT @@read_only').stdout.trim() !== '0'; i++) await sleep(250);
      expect(root(p.nodes.primary, 'SELECT @@read_only').stdout.trim()).toBe('0');
      expect(p.route('writer')).toBe('primary');
    }), 120_000);

  it('a diverged old writer returning (a write of its own after the failover, agent restarted meanwhile): rebuilt from the writer, the write gone', () =>
    withPair('diverged', async (p) => {
      const before = await writes(p, 2, 20, 1);
      kill(p.nodes.primary, 'SIGKILL');
      for (let i = 0; i < 40 && p.route('writer') !== 'replica'; i++) await sleep(250);
      expect(p.route('writer')).toBe('replica');
      const after = await writes(p, 2, 20, 1000);
      // The agent away, the old writer comes back and takes a write nobody acknowledged to a client.
      await p.agent.stop(2000);
      await local.restart(p.nodes.primary);
      const own = root(p.nodes.primary, 'SET GLOBAL read_only = OFF; INSERT INTO app.drill (id) VALUES (999999); SET GLOBAL read_only = ON');
      expect(own.status, own.stderr).toBe(0);
      p.startAgent();
      expect(await replicatesFrom(p.nodes.primary, p.nodes.replica, 90)).toBe(true);
      expect(msgs(p)).toContain('rebuilding primary from replica: its extra transactions were never acknowledged');
      expect(msgs(p)).toContain('rebuilt primary from replica');
      expect(root(p.nodes.primary, 'SELECT COUNT(*) FROM app.drill WHERE id = 999999').stdout.trim()).toBe('0');
      expect(await missingAfterCatchUp(p.nodes.primary, [...before.acked, ...after.acked])).toEqual([]);
      expect(p.route('lost')).toBe('');
      expect(p.metrics()).toMatch(/^dws_failover_rebuilds_total 1$/m);
    }), 180_000);

  it('the agent killed mid-failover and started again: it goes on from its state file, writes resume on the new writer, none lost', () =>
    withPair('agent-restart', async (p) => {
      const writing = writes(p, 10, 20, 1);
      await sleep(2000);
      kill(p.nodes.primary, 'SIGKILL');
      await p.agent.until('the agent starts the failover', () => msgs(p).some((m) => m.startsWith('failover: promoting')), 40, 100);
      process.kill(p.agent.proc.pid!, 'SIGKILL');
      await sleep(500);
      p.startAgent();
      const w = await writing;
      expect(p.route('writer')).toBe('replica');
      expect(msgs(p).filter((m) => m.startsWith('started:')).at(-1)).toBe('started: writer replica, wanted primary, automatic failover after 2s (1s when its container is gone)');
      expect(missing(p.nodes.replica, w.acked)).toEqual([]);
      expect(w.at.at(-1)! - w.at[0]).toBeGreaterThan(8000);
    }), 120_000);

  it('a planned switchover under writes: writes move to the other node, none lost, the old writer replicates from it', () =>
    withPair('switchover', async (p) => {
      const writing = writes(p, 10, 20, 1);
      await sleep(3000);
      await p.agent.stop(2000);
      const movedAt = Date.now();
      p.startAgent({ wantedWriter: 'replica' });
      const w = await writing;
      expect(p.route('writer')).toBe('replica');
      expect(p.route('wanted')).toBe('replica');
      expect(msgs(p)).toContain('switchover: replica is the writer (was primary)');
      expect(missing(p.nodes.replica, w.acked)).toEqual([]);
      expect(longestGap(w, movedAt, Date.now())).toBeLessThan(4000);
      expect(w.at.filter((t) => t > movedAt + 4000).length).toBeGreaterThan(20);
      expect(await replicatesFrom(p.nodes.primary, p.nodes.replica)).toBe(true);
      expect(p.metrics()).toMatch(/^dws_failover_switchovers_total 1$/m);
    }), 120_000);
});
