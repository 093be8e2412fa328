import { spawn } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { connect, createServer, Server, Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DB_ROUTER_PATHS, DbRouterModel, FailoverAgentModel, ROUTE_DIR, renderDbRouterConfig, renderFailoverConfig, renderRouteCheck } from '../../src/database/render/db-failover';
import { DB_TLS_FILES } from '../../src/database/render/mysql';
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
      expect(defaults).toMatch(/ check inter 250ms fall 1 rise 1 /);
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
    // Unprivileged (the test may not run as root) and below the ephemeral range (32768+), where an
    // outgoing connection of a parallel test could take one between a probe and HAProxy's bind.
    ports = { node: 23081, writer: 23082, reader: 23083, metrics: 23084 };
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
  goneAfterSeconds: 1,
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

// The agent itself (assets/db-failover, Go) reads the rendered file: `db-failover -check`.
describe('renderFailoverConfig, checked by the agent', () => {
  let binary = '';
  beforeAll(() => {
    binary = join(mkdtempSync(join(tmpdir(), 'dws-agent-')), 'db-failover');
    const r = run('go', ['build', '-C', join(__dirname, '..', '..', 'assets', 'db-failover'), '-o', binary, '.'], { timeoutMs: 300_000 });
    expect(r.status, r.stderr).toBe(0);
  }, 300_000);
  const check = (config: string) => run(binary, ['-check', '-config', tempFile('failover.json', config)]);

  it.each(VARIANTS.map((m) => [label(m), m] as const))('is accepted: %s', (_, m) => {
    const r = check(renderFailoverConfig(m));
    expect(r.stderr).toBe('');
    expect(r.stdout).toBe('db-failover: configuration is valid\n');
  });

  it('is a check that can fail: the agent refuses automatic failover without semi-sync, naming why', () => {
    const r = check(renderFailoverConfig({ ...AGENT, semiSync: false, automatic: true }));
    expect(r.status).toBe(2);
    expect(r.stderr).toBe('db-failover: automatic failover needs semiSync: without it the replica may lack acknowledged writes\n');
  });

  it('is a check that can fail: an unknown field is refused', () => {
    const r = check(renderFailoverConfig(AGENT).replace('"engine"', '"engin"'));
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/unknown field "engin"/);
  });

  it('names both nodes by their Docker DNS names on the database port, and holds no password', () => {
    const c = JSON.parse(renderFailoverConfig({ ...AGENT, tls: true, metricsAddress: 'web-db-failover-mgmt:9105' }));
    expect(c.nodes).toEqual([
      { name: 'web-db-primary', host: 'web-db-primary', port: 3306 },
      { name: 'web-db-replica', host: 'web-db-replica', port: 3306 },
    ]);
    expect(c).toMatchObject({ wantedWriter: 'web-db-primary', automatic: true, semiSync: true, failoverAfterSeconds: 5, goneAfterSeconds: 1, agentUser: 'dws_failover', routeDir: ROUTE_DIR, tls: { ca: DB_TLS_FILES.ca }, metricsAddress: 'web-db-failover-mgmt:9105' });
    expect(renderFailoverConfig(AGENT)).not.toMatch(/password"|secret0|Repl0/i);
  });
});
