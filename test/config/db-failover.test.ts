import { spawn } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { AddressInfo, connect, createServer, Server, Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DB_ROUTER_PATHS, DbRouterModel, FailoverAgentModel, ROUTE_DIR, renderDbRouterConfig, renderFailoverAgent, renderRouteCheck } from '../../src/config/db-failover';
import { DB_TLS_FILES } from '../../src/config/mysql';
import { passwordLiterals } from '../helpers';
import { run, start, Started, tempFile } from './real-programs';

const router: DbRouterModel = {
  nodes: ['web-db-primary', 'web-db-replica'],
  nodePort: 3306,
  writerPort: 3306,
  readerPort: 3307,
  resolver: '127.0.0.11',
  maxConnections: 4000,
};

/** `haproxy -c`: valid, and no warning but the expected one (the nodes resolve only in Docker). */
function check(cfg: string) {
  const r = run('haproxy', ['-c', '-f', tempFile('db-router.cfg', cfg)]);
  const warnings = r.stderr.split('\n').filter((l) => l.includes('[WARNING]') && !l.includes('could not resolve address'));
  return { status: r.status, warnings, output: r.stdout + r.stderr };
}

/** The lines of one section ("frontend writer", "backend reader"), without its header. */
function section(cfg: string, header: string): string[] {
  const lines = cfg.split('\n');
  const start = lines.indexOf(header);
  expect(start, header).toBeGreaterThanOrEqual(0);
  const end = lines.findIndex((l, i) => i > start && !l.startsWith('  '));
  return lines.slice(start + 1, end < 0 ? undefined : end);
}

describe('renderDbRouterConfig, checked by haproxy -c', { tags: ['haproxy'] }, () => {
  it('renders a config HAProxy accepts without warnings', () => {
    const r = check(renderDbRouterConfig(router));
    expect(r.output).toContain('Configuration file is valid');
    expect(r.status).toBe(0);
    expect(r.warnings).toEqual([]);
  });

  it('has a writer and a reader frontend on the given ports', () => {
    const cfg = renderDbRouterConfig({ ...router, writerPort: 3310, readerPort: 3311 });
    expect(check(cfg).status).toBe(0);
    expect(section(cfg, 'frontend writer')).toEqual(['  bind :3310', '  default_backend writer']);
    expect(section(cfg, 'frontend reader')).toEqual(['  bind :3311', '  default_backend reader']);
  });

  it('routes by the route-check script, cuts the sessions of a node taken out, and has both nodes in both backends', () => {
    const cfg = renderDbRouterConfig({ ...router, nodePort: 3310 });
    for (const backend of ['writer', 'reader']) {
      const lines = section(cfg, `backend ${backend}`);
      expect(lines).toContain('  option external-check');
      expect(lines).toContain(`  external-check command ${DB_ROUTER_PATHS.routeCheck}`);
      const defaults = lines.find((l) => l.startsWith('  default-server '));
      expect(defaults).toMatch(/ check inter 1s fall 1 rise 1 /);
      expect(defaults).toContain(' on-marked-down shutdown-sessions ');
      expect(lines.filter((l) => l.startsWith('  server '))).toEqual(['  server web-db-primary web-db-primary:3310', '  server web-db-replica web-db-replica:3310']);
    }
    // HAProxy may fork the check only when told so.
    expect(section(cfg, 'global')).toEqual(expect.arrayContaining(['  external-check', '  insecure-fork-wanted']));
  });

  it('with a listen address and metrics: the endpoints listen there only, metrics on their own address, nothing else served there', () => {
    // In Docker these are network aliases (resolved when HAProxy starts); here, host names.
    const cfg = renderDbRouterConfig({ ...router, listenAddress: '127.0.0.1', metrics: { address: 'localhost', port: 8405 } });
    const r = check(cfg);
    expect(r.status, r.output).toBe(0);
    expect(r.warnings).toEqual([]);
    expect(section(cfg, 'frontend writer')).toContain('  bind 127.0.0.1:3306');
    expect(section(cfg, 'frontend reader')).toContain('  bind 127.0.0.1:3307');
    const metrics = section(cfg, 'frontend metrics');
    expect(metrics.filter((l) => l.includes(' bind '))).toEqual(['  bind localhost:8405']);
    expect(metrics).toEqual(expect.arrayContaining(['  mode http', '  http-request use-service prometheus-exporter if { path /metrics }', '  http-request deny']));
    // Without metrics, no such frontend.
    expect(renderDbRouterConfig(router)).not.toContain('frontend metrics');
  });

  it('is a check that can fail: HAProxy rejects the external check without its global switch', () => {
    const r = check(renderDbRouterConfig(router).replace('\n  external-check\n', '\n'));
    expect(r.status).not.toBe(0);
    expect(r.output).toMatch(/external-check/);
  });
});

/** The route check with its directory moved to dir (it is fixed at /run/dws-route in the router). */
function routeCheckIn(dir: string): string {
  const script = renderRouteCheck();
  expect(script).toContain(`"${ROUTE_DIR}/$HAPROXY_PROXY_NAME"`);
  const file = join(dir, 'route-check.sh');
  writeFileSync(file, script.split(ROUTE_DIR).join(dir));
  chmodSync(file, 0o755);
  return file;
}

describe('renderRouteCheck, run by sh', () => {
  const dir = mkdtempSync(join(tmpdir(), 'dws-route-'));
  const script = routeCheckIn(dir);
  /** The check's exit code for a node in a backend, run as HAProxy runs it: its arguments, its environment. */
  const routed = (backend: string, node: string) =>
    new Promise<number | null>((done, fail) => {
      const env = { HAPROXY_PROXY_NAME: backend, HAPROXY_SERVER_NAME: node, PATH: '/usr/bin:/bin' };
      const child = spawn('sh', [script, '0.0.0.0', '0', node, '3306'], { env, stdio: 'ignore', timeout: 5000 });
      child.on('error', fail);
      child.on('exit', (code) => done(code));
    });
  const routes = (backend: string, text: string) => writeFileSync(join(dir, backend), text);
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('passes the node the route file lists, and only that node', async () => {
    routes('writer', 'web-db-primary\n');
    expect(await routed('writer', 'web-db-primary')).toBe(0);
    expect(await routed('writer', 'web-db-replica')).toBe(1);
    // No prefix or substring match.
    expect(await routed('writer', 'web-db-prim')).toBe(1);
    expect(await routed('writer', 'web-db-primary-2')).toBe(1);
  });

  it('reads one node a line, and keeps the backends apart', async () => {
    routes('reader', 'web-db-replica\nweb-db-primary\n');
    routes('writer', 'web-db-primary\n');
    expect(await routed('reader', 'web-db-replica')).toBe(0);
    expect(await routed('reader', 'web-db-primary')).toBe(0);
    expect(await routed('writer', 'web-db-replica')).toBe(1);
  });

  it('fails every node when the file is missing or holds an empty line (no writer: a switchover is under way)', async () => {
    expect(await routed('nobody', 'web-db-primary')).toBe(1);
    routes('writer', '\n');
    expect(await routed('writer', 'web-db-primary')).toBe(1);
    expect(await routed('writer', 'web-db-replica')).toBe(1);
    routes('writer', '');
    expect(await routed('writer', 'web-db-primary')).toBe(1);
  });
});

/** A TCP "node" on addr:port that greets every connection with its name. */
function greeter(name: string, port: number): Promise<Server> {
  return new Promise((done, fail) => {
    const s = createServer((c) => c.write(`${name}\n`));
    s.on('error', fail);
    s.listen(port, name, () => done(s));
  });
}

/** A connection to the router: who answered, and whether the router has closed it since. */
function session(port: number): Promise<{ node: string; closed: () => boolean; socket: Socket }> {
  return new Promise((done, fail) => {
    const socket = connect(port, '127.0.0.1');
    let closed = false;
    socket.on('close', () => (closed = true));
    socket.on('error', () => (closed = true));
    socket.once('data', (d) => done({ node: String(d).trim(), closed: () => closed, socket }));
    socket.once('close', () => fail(new Error(`port ${port}: closed without an answer`)));
  });
}

/** The router's Prometheus metrics. */
async function metrics(port: number): Promise<string> {
  const r = await fetch(`http://127.0.0.1:${port}/metrics`);
  expect(r.status).toBe(200);
  return r.text();
}

const until = async (ok: () => boolean | Promise<boolean>, tries = 50) => {
  for (let i = 0; i < tries && !(await ok()); i++) await new Promise((r) => setTimeout(r, 100));
};

describe('renderDbRouterConfig, run by real HAProxy with the route check', { tags: ['haproxy'] }, () => {
  // Two "nodes" on one port, told apart by address; their names are their addresses, so nothing
  // needs resolving. The route files and the check move to a temporary directory.
  const nodes = ['127.0.0.1', '127.0.0.2'];
  const dir = mkdtempSync(join(tmpdir(), 'dws-db-router-'));
  const routes = join(dir, 'routes');
  let servers: Server[] = [];
  let haproxy: Started | undefined;
  const log = () => haproxy?.output() ?? '';
  let ports: { node: number; writer: number; reader: number; metrics: number };
  const route = (backend: string, node: string) => writeFileSync(join(routes, backend), `${node}\n`);
  /** Who answers a new session on port, or '' when none does. */
  const answers = (port: number) => session(port).then((s) => (s.socket.destroy(), s.node)).catch(() => '');
  /**
   * Routes the backend to node and waits (bounded) until three new sessions in a row land there,
   * which round robin gives only once the other node is out: each test sets up what it uses.
   */
  const routeTo = async (backend: 'writer' | 'reader', node: string) => {
    route(backend, node);
    const port = backend === 'writer' ? ports.writer : ports.reader;
    let seen: string[] = [];
    await until(async () => (seen = await Promise.all([0, 1, 2].map(() => answers(port)))).every((n) => n === node));
    expect(seen, log()).toEqual([node, node, node]);
  };

  beforeAll(async () => {
    mkdirSync(routes);
    // A free port for the nodes, then the router's two (high ports; the test may not run as root).
    const probe = createServer();
    await new Promise<void>((r) => probe.listen(0, '127.0.0.1', () => r()));
    const base = (probe.address() as AddressInfo).port;
    probe.close();
    ports = { node: base, writer: base + 1, reader: base + 2, metrics: base + 3 };
    servers = await Promise.all(nodes.map((n) => greeter(n, ports.node)));
    route('writer', nodes[0]);
    route('reader', nodes[1]);
    const check = routeCheckIn(routes);
    const cfg = renderDbRouterConfig({ nodes, nodePort: ports.node, writerPort: ports.writer, readerPort: ports.reader, resolver: '127.0.0.1', maxConnections: 100, metrics: { address: '127.0.0.1', port: ports.metrics } });
    haproxy = start('haproxy', ['-db', '-f', tempFile('db-router.cfg', cfg.split(DB_ROUTER_PATHS.routeCheck).join(check))]);
    // Bounded: the first checks run within a second or two. Until then HAProxy counts every
    // server up, so wait until each backend has put down the node its file does not name.
    await haproxy.until('each backend put down the node its route file does not name', () => log().includes(`Server writer/${nodes[1]} is DOWN`) && log().includes(`Server reader/${nodes[0]} is DOWN`));
  }, 20_000);

  afterAll(async () => {
    await haproxy?.stop();
    for (const s of servers) s.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('sends the writer port to the node in the writer file, the reader port to the one in the reader file', async () => {
    await routeTo('writer', nodes[0]);
    await routeTo('reader', nodes[1]);
    const w = await session(ports.writer);
    const r = await session(ports.reader);
    expect([w.node, r.node], log()).toEqual(nodes);
    w.socket.destroy();
    r.socket.destroy();
  });

  it('serves metrics that say which node each endpoint sends to (what the failover alerts read)', async () => {
    await routeTo('writer', nodes[0]);
    const text = await metrics(ports.metrics);
    expect(text).toMatch(/^haproxy_backend_active_servers\{proxy="writer"\} 1$/m);
    expect(text).toMatch(new RegExp(`^haproxy_server_status\\{proxy="writer",server="${nodes[0]}",state="UP"\\} 1$`, 'm'));
    expect(text).toMatch(new RegExp(`^haproxy_server_status\\{proxy="writer",server="${nodes[1]}",state="UP"\\} 0$`, 'm'));
    // Anything but /metrics is refused.
    expect((await fetch(`http://127.0.0.1:${ports.metrics}/stats`)).status).toBe(403);
  });

  it('on a new writer, closes the sessions to the old one within seconds and sends new ones to the new one', async () => {
    await routeTo('writer', nodes[0]);
    await routeTo('reader', nodes[1]);
    const old = await session(ports.writer);
    expect(old.node).toBe(nodes[0]);
    route('writer', nodes[1]);
    await until(() => old.closed(), 50);
    expect(old.closed(), log()).toBe(true);
    let now = '';
    await until(async () => (now = await answers(ports.writer)) === nodes[1]);
    expect(now, log()).toBe(nodes[1]);
    // The reader route is its own.
    const r = await session(ports.reader);
    expect(r.node).toBe(nodes[1]);
    r.socket.destroy();
  });

  it('with no writer routed (a switchover under way), takes no writes at all', async () => {
    await routeTo('writer', nodes[0]);
    const old = await session(ports.writer);
    writeFileSync(join(routes, 'writer'), '\n');
    await until(() => old.closed(), 50);
    expect(old.closed(), log()).toBe(true);
    expect(await metrics(ports.metrics)).toMatch(/^haproxy_backend_active_servers\{proxy="writer"\} 0$/m);
    // New connections are accepted and closed without reaching a node.
    await expect(session(ports.writer)).rejects.toThrow(/closed without an answer/);
  });
});

const AGENT: FailoverAgentModel = {
  engine: 'mysql',
  nodes: ['web-db-primary', 'web-db-replica'],
  port: 3306,
  wantedWriter: 'web-db-primary',
  automatic: true,
  failoverAfterSeconds: 5,
  catchUpTimeoutSeconds: 30,
  rebuildTimeoutSeconds: 3600,
  replicationUser: 'repl',
  tls: false,
  semiSync: true,
};

const VARIANTS = (['mysql', 'mariadb'] as const).flatMap((engine) =>
  [true, false].flatMap((tls) => [true, false].map((semiSync) => ({ ...AGENT, engine, tls, semiSync, automatic: semiSync }))),
);
const label = (m: FailoverAgentModel) => `${m.engine}, tls ${m.tls ? 'on' : 'off'}, semi-sync ${m.semiSync ? 'on' : 'off'}`;
describe('renderFailoverAgent', () => {
  it.each(VARIANTS.map((m) => [label(m), m] as const))('parses (bash -n): %s', (_, m) => {
    const r = run('bash', ['-n', tempFile('failover-agent.sh', renderFailoverAgent(m))]);
    expect(r.status, r.stderr).toBe(0);
    expect(r.stderr).toBe('');
  });

  it('is a check that can fail: bash -n rejects a broken script', () => {
    expect(run('bash', ['-n', tempFile('failover-agent.sh', renderFailoverAgent(AGENT).replace(/\ndone\n$/, '\n'))]).status).not.toBe(0);
  });

  it.each(VARIANTS.map((m) => [label(m), m] as const))('passes shellcheck: %s', { tags: ['shellcheck'] }, (_, m) => {
    const r = run('shellcheck', ['-s', 'bash', '-S', 'warning', tempFile('failover-agent.sh', renderFailoverAgent(m))]);
    expect(r.status, r.stdout).toBe(0);
  });

  it('uses MySQL statements on MySQL: GTID auto-position, GTID_SUBSET before a rejoin, super_read_only as the fence', () => {
    const s = renderFailoverAgent(AGENT);
    expect(s).toContain("CHANGE REPLICATION SOURCE TO SOURCE_HOST='$writer', SOURCE_PORT=3306, SOURCE_USER='repl', SOURCE_PASSWORD='$REPLICATION_PASSWORD', SOURCE_AUTO_POSITION=1");
    expect(s).toContain("SELECT GTID_SUBSET('$mine', @@global.gtid_executed)");
    expect(s).toContain('WAIT_FOR_EXECUTED_GTID_SET(');
    expect(s).toContain('RESET BINARY LOGS AND GTIDS;');
    expect(s).toContain('SET GLOBAL super_read_only = ON');
    expect(s).toContain('SET GLOBAL super_read_only = OFF; SET GLOBAL read_only = OFF');
    expect(s).toContain('mysqldump ');
    expect(s).toMatch(/\btimeout 3 mysql --defaults-extra-file="\$CNF"/);
    // Nothing of MariaDB's.
    expect(s).not.toMatch(/MASTER_|MASTER_GTID_WAIT|RESET MASTER|mariadb|SLAVE/);
  });

  it('uses MariaDB statements on MariaDB: current_pos, error 1236 as divergence, read_only as the fence', () => {
    const s = renderFailoverAgent({ ...AGENT, engine: 'mariadb' });
    expect(s).toContain("CHANGE MASTER TO MASTER_HOST='$writer', MASTER_PORT=3306, MASTER_USER='repl', MASTER_PASSWORD='$REPLICATION_PASSWORD', MASTER_USE_GTID=current_pos");
    // Catch-up before promotion: a GTID wait (switchover) and the whole relay log (failover).
    expect(s).toContain('SELECT MASTER_GTID_WAIT(');
    expect(s).toContain('has read all relay log');
    expect(s).toContain("echo 'RESET MASTER;'");
    expect(s).toContain('"$(field Last_IO_Errno "$status")" = 1236');
    expect(s).toContain('SET GLOBAL read_only = ON');
    expect(s).toContain('mariadb-dump ');
    expect(s).toMatch(/\btimeout 3 mariadb --defaults-extra-file="\$CNF"/);
    // Nothing of MySQL's.
    expect(s).not.toMatch(/SOURCE_|super_read_only|GTID_SUBSET|WAIT_FOR_EXECUTED_GTID_SET|RESET BINARY LOGS|mysqldump|\bmysql --/);
  });

  it.each(VARIANTS.map((m) => [label(m), m] as const))('names the replication password only as $REPLICATION_PASSWORD, read from its file: %s', (_, m) => {
    const s = renderFailoverAgent(m);
    expect(s).toContain('REPLICATION_PASSWORD=$(secret replication-password)');
    const assignments = s.match(/(SOURCE|MASTER)_PASSWORD=[^,]*/g) ?? [];
    expect(assignments.length).toBeGreaterThan(0);
    for (const a of assignments) expect(a).toMatch(/^(SOURCE|MASTER)_PASSWORD='\$REPLICATION_PASSWORD'$/);
    // The agent's own password goes into an option file, from its file, never onto a command line.
    expect(s).toContain('FAILOVER_PASSWORD=$(secret failover-password) || exit 1');
    expect(s).toContain('"password=$FAILOVER_PASSWORD"');
    expect(s).not.toMatch(/--password/);
    expect(passwordLiterals(s)).toEqual([]);
  });

  it('is a check that can fail: a literal replication password is found', () => {
    const leaked = renderFailoverAgent(AGENT).replace("SOURCE_PASSWORD='$REPLICATION_PASSWORD'", "SOURCE_PASSWORD='Repl0secret'");
    expect(passwordLiterals(leaked)).not.toEqual([]);
  });

  it.each(['mysql', 'mariadb'] as const)('with semi-sync off, names no semi-sync variable (MySQL would not know them without the plugin): %s', (engine) => {
    const off = renderFailoverAgent({ ...AGENT, engine, semiSync: false, automatic: false });
    // The source's semi-sync status and clients are status lookups (no row without the plugin,
    // read as OFF): that is all.
    const statusLookup = /\(SELECT VARIABLE_VALUE FROM \w+\.global_status WHERE VARIABLE_NAME = 'Rpl_semi_sync_(source|master)_(status|clients)'\)/gi;
    expect(off.match(statusLookup)?.length).toBeGreaterThan(0);
    expect(off.replace(statusLookup, '')).not.toMatch(/rpl_semi_sync/i);
    // With semi-sync on, the agent sets the roles of both nodes.
    const on = renderFailoverAgent({ ...AGENT, engine });
    const [source, replica] = engine === 'mysql' ? ['rpl_semi_sync_source_enabled', 'rpl_semi_sync_replica_enabled'] : ['rpl_semi_sync_master_enabled', 'rpl_semi_sync_slave_enabled'];
    expect(on).toContain(`SET GLOBAL ${replica} = OFF; SET GLOBAL ${source} = ON`);
    expect(on).toContain(`SET GLOBAL ${source} = OFF; SET GLOBAL ${replica} = ON`);
    expect(on).toContain(`@@global.${source}, @@global.${replica}`);
  });

  it.each(['mysql', 'mariadb'] as const)('with tls on, verifies the nodes and makes replication verify its source; with tls off, no TLS options: %s', (engine) => {
    const on = renderFailoverAgent({ ...AGENT, engine, tls: true });
    const off = renderFailoverAgent({ ...AGENT, engine, tls: false });
    const client = /^printf '%s\\n' '\[client\]' .* > "\$CNF"$/m;
    if (engine === 'mysql') {
      expect(on.match(client)?.[0]).toContain(`'ssl-mode=VERIFY_IDENTITY' 'ssl-ca=${DB_TLS_FILES.ca}'`);
      expect(on).toContain(`SOURCE_SSL=1, SOURCE_SSL_CA='${DB_TLS_FILES.ca}', SOURCE_SSL_VERIFY_SERVER_CERT=1`);
    } else {
      expect(on.match(client)?.[0]).toContain(`'ssl' 'ssl-ca=${DB_TLS_FILES.ca}' 'ssl-verify-server-cert'`);
      expect(on).toContain(`MASTER_SSL=1, MASTER_SSL_CA='${DB_TLS_FILES.ca}', MASTER_SSL_VERIFY_SERVER_CERT=1`);
    }
    expect(off.match(client)?.[0]).toBeDefined();
    expect(off).not.toMatch(/\bssl|_SSL/);
  });
});
