import { readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { HaproxyModel, renderHaproxyConfig } from '../../src';
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
  timeouts: { connectSeconds: 5, clientSeconds: 30, serverSeconds: 30 },
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
