import { readFileSync, writeFileSync } from 'node:fs';
import { createServer, IncomingMessage, ServerResponse } from 'node:http';
import { AddressInfo, connect } from 'node:net';
import { dirname, join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { HaproxyModel, renderHaproxyConfig } from '../../src/load-balancer/render/haproxy';
import { localGet, run, start, tempFile } from './real-programs';

const model: HaproxyModel = {
  listenPort: 80,
  tls: undefined,
  runAsUser: 'haproxy',
  statsPort: 8404,
  statsBindAddresses: ['127.0.0.1'],
  allowFrom: [],
  healthCheck: { path: '/healthz', expectStatus: 200, intervalSeconds: 2, timeoutSeconds: 2, fall: 3, rise: 2 },
  failureHandling: { retries: 3, errorLimit: 3, slowStartSeconds: 10 },
  servers: [
    { name: 'web-server-1-nginx', host: 'web-server-1-nginx', port: 80 },
    { name: 'web-server-2-nginx', host: 'web-server-2-nginx', port: 80 },
  ],
  forwarding: { proxyProtocolFrom: [], trustForwardedHeadersFrom: [] },
  timeouts: { connectSeconds: 5, clientSeconds: 30, serverSeconds: 30, tunnelSeconds: 3600 },
  resolver: '127.0.0.11:53',
  maxConnections: 4096,
};

/** `haproxy -c`: valid, and no warning but the expected one (backends resolve only in Docker). */
function check(cfg: string) {
  const r = run('haproxy', ['-c', '-f', tempFile('haproxy.cfg', cfg)]);
  const warnings = r.stderr.split('\n').filter((l) => l.includes('[WARNING]') && !l.includes('could not resolve address'));
  return { status: r.status, warnings, output: r.stdout + r.stderr };
}

describe('renderHaproxyConfig, checked by haproxy -c', { tags: ['haproxy'] }, () => {
  it('renders a config HAProxy accepts without warnings', () => {
    const r = check(renderHaproxyConfig(model));
    expect(r.output).toContain('Configuration file is valid');
    expect(r.status).toBe(0);
    expect(r.warnings).toEqual([]);
  });

  it('accepts every health-check setting at its limits', () => {
    for (const hc of [
      { path: '/', expectStatus: 100, intervalSeconds: 1, timeoutSeconds: 1, fall: 1, rise: 1 },
      { path: '/a/b?c=d', expectStatus: 599, intervalSeconds: 60, timeoutSeconds: 60, fall: 10, rise: 10 },
    ]) {
      const r = check(renderHaproxyConfig({ ...model, healthCheck: hc }));
      expect(r.status, r.output).toBe(0);
      expect(r.warnings).toEqual([]);
    }
  });

  it('accepts the failure handling at its limits, and turned off', () => {
    for (const failureHandling of [
      { retries: 0, errorLimit: 0, slowStartSeconds: 0 },
      { retries: 10, errorLimit: 100, slowStartSeconds: 3600 },
    ]) {
      const cfg = renderHaproxyConfig({ ...model, failureHandling });
      const r = check(cfg);
      expect(r.status, r.output).toBe(0);
      expect(r.warnings).toEqual([]);
      expect(cfg.includes('observe layer7')).toBe(failureHandling.errorLimit > 0);
      expect(cfg.includes('slowstart')).toBe(failureHandling.slowStartSeconds > 0);
    }
  });

  it('accepts an empty backend (targets come later) and many servers', () => {
    expect(check(renderHaproxyConfig({ ...model, servers: [] })).status).toBe(0);
    const many = Array.from({ length: 4 }, (_, i) => ({ name: `s${i}`, host: `host-${i}`, port: 8000 + i }));
    expect(check(renderHaproxyConfig({ ...model, servers: many })).status).toBe(0);
  });

  it('with TLS on a real certificate: HAProxy accepts it without warnings', { tags: ['openssl'] }, () => {
    const dir = dirname(tempFile('x', ''));
    const pem = join(dir, 'site.pem');
    const made = run('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', join(dir, 'key.pem'), '-out', join(dir, 'cert.pem'), '-days', '1', '-subj', '/CN=localhost']);
    expect(made.status, made.stderr).toBe(0);
    writeFileSync(pem, readFileSync(join(dir, 'cert.pem'), 'utf8') + '\n' + readFileSync(join(dir, 'key.pem'), 'utf8'));
    const cfg = renderHaproxyConfig({ ...model, tls: { pemPath: pem, listenPort: 443, publicPort: 8443 } });
    const r = check(cfg);
    expect(r.status, r.output).toBe(0);
    expect(r.warnings).toEqual([]);
    // And without the certificate, HAProxy refuses to start: the check can fail.
    expect(check(cfg.replace(pem, join(dir, 'missing.pem'))).status).not.toBe(0);
  });

  it('is a check that can fail: HAProxy rejects a broken config', () => {
    const r = check(renderHaproxyConfig(model).replace('balance roundrobin', 'balance sideways'));
    expect(r.status).not.toBe(0);
  });
});

/** One GET to 127.0.0.1: the status, or the error code when the connection is refused or closed. */
const get = async (port: number, path: string) => (await localGet(port, path)).status;

/** Runs real HAProxy on a rendered config (foreground), calls fn, stops it. */
async function withHaproxy(m: HaproxyModel, fn: () => Promise<void>): Promise<void> {
  const haproxy = start('haproxy', ['-db', '-f', tempFile('haproxy.cfg', renderHaproxyConfig(m))]);
  try {
    await haproxy.until('the stats port answers', async () => (await get(m.statsPort, '/healthz')) === '200');
    await fn();
  } finally {
    await haproxy.stop();
  }
}

describe('renderHaproxyConfig, run by real HAProxy', { tags: ['haproxy'] }, () => {
  // High ports on the host; no user switch (the test may not run as root).
  const local: HaproxyModel = { ...model, runAsUser: undefined, listenPort: 18481, statsPort: 18484, servers: [] };

  it('refuses sources outside allowFrom on connect, and serves those inside', async () => {
    await withHaproxy({ ...local, allowFrom: ['10.0.0.0/8', '192.168.0.0/16'] }, async () => {
      expect(await get(local.listenPort, '/')).toBe('ECONNRESET');
    });
    await withHaproxy({ ...local, allowFrom: ['10.0.0.0/8', '127.0.0.0/8'] }, async () => {
      expect(await get(local.listenPort, '/')).toBe('503'); // no backend servers: HAProxy answers itself
    });
  });

  it('serves statistics, metrics and health only on the stats port, bound by name', async () => {
    // "localhost" stands in for the management network alias: HAProxy resolves it at start.
    await withHaproxy({ ...local, statsBindAddresses: ['localhost'] }, async () => {
      expect(await get(local.statsPort, '/stats')).toBe('200');
      expect(await get(local.statsPort, '/metrics')).toBe('200');
      for (const path of ['/stats', '/metrics', '/healthz']) expect(await get(local.listenPort, path)).toBe('503');
    });
  });
});

/** A backend on 127.0.0.1: answers /healthz, and everything else with handle(); records what it got. */
async function backend(handle: (req: IncomingMessage, res: ServerResponse) => void) {
  const seen: { method: string; url: string; headers: IncomingMessage['headers'] }[] = [];
  const server = createServer((req, res) => {
    if (req.url === '/healthz') {
      res.end('ok');
      return;
    }
    seen.push({ method: req.method!, url: req.url!, headers: req.headers });
    req.resume();
    req.on('end', () => handle(req, res));
  });
  await new Promise<void>((ok) => server.listen(0, '127.0.0.1', ok));
  return { seen, port: (server.address() as AddressInfo).port, close: () => new Promise((ok) => server.close(ok)) };
}
const echo = (req: IncomingMessage, res: ServerResponse) => res.end(JSON.stringify(req.headers));

/** One raw HTTP/1.1 request over TCP (so the test can send a PROXY header or any header it likes); the response text. */
function rawRequest(port: number, text: string, from = '127.0.0.1'): Promise<string> {
  return new Promise((done, fail) => {
    // Written, not ended: a half-closed connection reads to HAProxy as a client that gave up.
    const socket = connect({ port, host: '127.0.0.1', localAddress: from }, () => socket.write(text));
    let got = '';
    socket.setTimeout(5000, () => socket.destroy(new Error('no answer within 5 s')));
    socket.on('data', (d) => (got += d));
    socket.on('end', () => done(got));
    socket.on('error', fail);
  });
}
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

describe('renderHaproxyConfig, headers and retries, run by real HAProxy', { tags: ['haproxy'] }, () => {
  const local: HaproxyModel = { ...model, runAsUser: undefined, listenPort: 18491, statsPort: 18494, failureHandling: { retries: 3, errorLimit: 0, slowStartSeconds: 0 } };
  const body = (response: string) => JSON.parse(response.slice(response.indexOf('\r\n\r\n') + 4));
  /** Starts HAProxy in front of the backends, waits until their checks passed, runs fn with its log lines. */
  async function withLb(m: HaproxyModel, backends: { port: number }[], fn: (log: () => Record<string, unknown>[]) => Promise<void>) {
    const servers = backends.map((b, i) => ({ name: `b${i}`, host: '127.0.0.1', port: b.port }));
    const haproxy = start('haproxy', ['-db', '-f', tempFile('haproxy.cfg', renderHaproxyConfig({ ...m, servers }))]);
    const log = () => haproxy.output().split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l));
    try {
      await haproxy.until('every backend is up', async () => {
        const r = await fetch(`http://127.0.0.1:${m.statsPort}/metrics`).then((x) => x.text(), () => '');
        return (r.match(/^haproxy_server_status\{proxy="app",server="[^"]+",state="UP"\} 1$/gm) ?? []).length === servers.length * 2;
      });
      await fn(log);
    } finally {
      await haproxy.stop();
    }
  }

  it('drops what a client says about itself: X-Forwarded-*, X-Real-IP, Forwarded and X-Request-ID are the load balancer\'s own; logs the request as JSON', async () => {
    const b = await backend(echo);
    try {
      await withLb(local, [b], async (log) => {
        const forged = ['X-Forwarded-For: 10.6.6.6', 'X-Real-IP: 10.6.6.6', 'X-Forwarded-Proto: https', 'X-Forwarded-Host: evil.example', 'Forwarded: for=10.6.6.6', 'X-Request-ID: forged'];
        const got = body(await rawRequest(local.listenPort, ['GET /who?a="b" HTTP/1.1', 'Host: shop.example:8080', ...forged, 'Connection: close', '', ''].join('\r\n')));
        expect(got).toMatchObject({ host: 'shop.example:8080', 'x-forwarded-for': '127.0.0.1', 'x-real-ip': '127.0.0.1', 'x-forwarded-proto': 'http', 'x-forwarded-host': 'shop.example:8080' });
        expect(got.forwarded).toBeUndefined();
        expect(got['x-request-id']).toMatch(UUID);
        // HAProxy logs a request once it is done (bounded wait).
        for (let i = 0; i < 40 && !log().some((l) => l.request_id === got['x-request-id']); i++) await new Promise((r) => setTimeout(r, 50));
        const line = log().find((l) => l.request_id === got['x-request-id']);
        expect(line).toMatchObject({ source: 'haproxy', client: '127.0.0.1', peer: '127.0.0.1', method: 'GET', uri: '/who?a=#22b#22', status: 200, server: 'b0.1', retries: '0', termination: '--' });
        expect(line?.time).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
        for (const k of ['queue_ms', 'connect_ms', 'response_ms', 'total_ms', 'bytes']) expect(typeof line?.[k], k).toBe('number');
      });
    } finally {
      await b.close();
    }
  });

  it('keeps the forwarding headers of a trusted proxy, and reads the client from a PROXY protocol header, only from the sources named', async () => {
    const b = await backend(echo);
    const m: HaproxyModel = { ...local, forwarding: { proxyProtocolFrom: ['127.0.0.2/32'], trustForwardedHeadersFrom: ['127.0.0.3/32'] } };
    const get = (from: string, extra: string[] = [], prefix = '') =>
      rawRequest(m.listenPort, prefix + ['GET / HTTP/1.1', 'Host: shop.example', ...extra, 'Connection: close', '', ''].join('\r\n'), from).then(body);
    try {
      await withLb(m, [b], async () => {
        const upstream = ['X-Forwarded-For: 198.51.100.7', 'X-Forwarded-Proto: https', 'X-Forwarded-Host: shop.example:443', 'X-Request-ID: from-upstream-1'];
        // From the trusted proxy: its headers stay, the client is the address it appended.
        expect(await get('127.0.0.3', upstream)).toMatchObject({
          'x-forwarded-for': '198.51.100.7, 127.0.0.3', 'x-real-ip': '198.51.100.7', 'x-forwarded-proto': 'https', 'x-forwarded-host': 'shop.example:443', 'x-request-id': 'from-upstream-1',
        });
        // The same headers from anyone else are dropped.
        const other = await get('127.0.0.4', upstream);
        expect(other).toMatchObject({ 'x-forwarded-for': '127.0.0.4', 'x-real-ip': '127.0.0.4', 'x-forwarded-proto': 'http', 'x-forwarded-host': 'shop.example' });
        expect(other['x-request-id']).toMatch(UUID);
        // A TCP balancer's PROXY header names the client.
        expect(await get('127.0.0.2', [], 'PROXY TCP4 203.0.113.9 127.0.0.1 40000 80\r\n')).toMatchObject({ 'x-forwarded-for': '203.0.113.9', 'x-real-ip': '203.0.113.9' });
        // Not from elsewhere: the header is taken as a broken request.
        expect(await rawRequest(m.listenPort, 'PROXY TCP4 203.0.113.9 127.0.0.1 40000 80\r\nGET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n', '127.0.0.4')).toMatch(/^HTTP\/1\.1 400/);
      });
    } finally {
      await b.close();
    }
  });

  it('retries a GET that got no answer on the other server, and never sends a failed POST to the other (the client gets 502)', async () => {
    // "flaky" reads the whole request, then closes the connection without answering.
    const flaky = await backend((req) => req.socket.destroy());
    const good = await backend(echo);
    try {
      await withLb(local, [flaky, good], async (log) => {
        for (let i = 0; i < 4; i++) expect(await rawRequest(local.listenPort, 'GET /item HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n')).toMatch(/^HTTP\/1\.1 200/);
        // Round robin sent some of them to flaky first; the log says they went on to the other server.
        expect(flaky.seen.filter((x) => x.method === 'GET').length).toBeGreaterThan(0);
        for (let i = 0; i < 40 && log().filter((l) => l.uri === '/item').length < 4; i++) await new Promise((r) => setTimeout(r, 50));
        const retried = log().filter((l) => l.method === 'GET' && l.uri === '/item' && l.retries !== '0');
        // One attempt per try on flaky (both its slots may be tried), then good answered.
        expect(retried.reduce((n, l) => n + Number(l.retries), 0)).toBe(flaky.seen.filter((x) => x.method === 'GET').length);
        expect(retried.every((l) => /^\+\d$/.test(String(l.retries)) && String(l.server).startsWith('b1.') && l.status === 200)).toBe(true);
        const before = { flaky: flaky.seen.length, good: good.seen.length };
        const statuses: string[] = [];
        for (let i = 0; i < 4; i++) {
          const order = JSON.stringify({ order: i });
          const r = await rawRequest(local.listenPort, `POST /orders HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: ${order.length}\r\nConnection: close\r\n\r\n${order}`);
          statuses.push(r.slice(9, 12));
        }
        const posts = (s: { seen: { method: string }[] }, from: number) => s.seen.slice(from).filter((x) => x.method === 'POST').length;
        // Round robin: half the POSTs went to flaky and failed there; none of those reached good.
        expect(posts(flaky, before.flaky) + posts(good, before.good), JSON.stringify({ statuses, log: log() })).toBe(4);
        expect(statuses.filter((s) => s === '502')).toHaveLength(posts(flaky, before.flaky));
        expect(statuses.filter((s) => s === '200')).toHaveLength(posts(good, before.good));
        expect(posts(flaky, before.flaky)).toBeGreaterThan(0);
      });
    } finally {
      await Promise.all([flaky.close(), good.close()]);
    }
  });
});
