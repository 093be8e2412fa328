import { existsSync, readFileSync } from 'node:fs';
import { createServer, IncomingMessage, request as httpRequest } from 'node:http';
import { AddressInfo, connect, Socket } from 'node:net';
import { dirname, join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { NginxModel, renderNginxConfig } from '../../src/app-servers/render/nginx';
import { localGet, run, start, tempFile } from './real-programs';

const model: NginxModel = {
  listenPort: 80,
  staticRoot: '/srv/static',
  appHost: 'web-server-1-app',
  appPort: 3000,
  resolver: '127.0.0.11',
  clientMaxBodySize: '10m',
  proxyReadTimeoutSeconds: 60,
  trustedProxies: '10.1.2.0/24',
};

function check(conf: string) {
  const r = run('nginx', ['-t', '-q', '-c', tempFile('nginx.conf', conf)], { stdoutToNull: true });
  return { status: r.status, output: r.stderr };
}

describe('renderNginxConfig, checked by nginx -t', { tags: ['nginx'] }, () => {
  it('with static files: nginx accepts it', () => {
    const r = check(renderNginxConfig(model));
    expect(r.output).toBe('');
    expect(r.status).toBe(0);
  });

  it('without static files: nginx accepts it and proxies everything', () => {
    const conf = renderNginxConfig({ ...model, staticRoot: undefined });
    expect(conf).not.toContain('try_files');
    const r = check(conf);
    expect(r.output).toBe('');
    expect(r.status).toBe(0);
  });

  it('is a check that can fail: nginx rejects a broken config', () => {
    expect(check(renderNginxConfig(model).replace('try_files $uri @app;', 'try_files;')).status).not.toBe(0);
  });
});

describe('renderNginxConfig, run by real nginx', { tags: ['nginx'] }, () => {
  it('serves stub_status only on the status listener, bound by name', async () => {
    // "localhost" stands in for the management network alias: nginx resolves it at start.
    // The app is an address where nothing listens, so the public port answers 502 at once.
    const conf = renderNginxConfig({ ...model, listenPort: 18480, statusListen: 'localhost:18413', staticRoot: undefined, appHost: '127.0.0.1', appPort: 18499 });
    const nginx = start('nginx', ['-g', 'daemon off;', '-c', tempFile('nginx.conf', conf)], { stdoutToNull: true });
    try {
      let r = { status: '', body: '' };
      await nginx.until('the status listener answers', async () => (r = await localGet(18413, '/stub_status')).status === '200');
      expect(r.body).toMatch(/^Active connections: \d+/);
      expect((await localGet(18413, '/')).status).toBe('404');
      // The public port proxies /stub_status to the app like any other path.
      expect((await localGet(18480, '/stub_status')).status).toBe('502');
    } finally {
      await nginx.stop();
    }
  });
});

describe('renderNginxConfig, what the app gets, run by real nginx', { tags: ['nginx'] }, () => {
  /** The app: echoes the request's headers and body size as JSON; a websocket-style upgrade is answered 101 and echoed byte for byte. */
  async function app() {
    const server = createServer((req, res) => {
      let bytes = 0;
      req.on('data', (d: Buffer) => (bytes += d.length));
      req.on('end', () => req.url !== '/events' && res.end(JSON.stringify({ method: req.method, headers: req.headers, bytes })));
    });
    // Server-sent events: one now, one a second later.
    server.prependListener('request', (req, res) => {
      if (req.url !== '/events') return;
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      res.write('data: first\n\n');
      setTimeout(() => res.end('data: second\n\n'), 1000);
    });
    server.on('upgrade', (req: IncomingMessage, socket: Socket) => {
      socket.write(`HTTP/1.1 101 Switching Protocols\r\nUpgrade: ${req.headers.upgrade}\r\nConnection: Upgrade\r\n\r\n`);
      socket.pipe(socket);
    });
    await new Promise<void>((ok) => server.listen(0, '127.0.0.1', ok));
    return { port: (server.address() as AddressInfo).port, close: () => new Promise((ok) => server.close(ok)) };
  }

  /** Runs nginx in front of the app with the JSON access log in a file; fn gets the log's entries. */
  async function withNginx(appPort: number, m: Partial<NginxModel>, fn: (log: () => Record<string, unknown>[]) => Promise<void>) {
    const accessLog = join(dirname(tempFile('x', '')), 'access.log');
    const conf = renderNginxConfig({ ...model, listenPort: 18482, staticRoot: undefined, appHost: '127.0.0.1', appPort, accessLog, ...m });
    const nginx = start('nginx', ['-g', 'daemon off;', '-c', tempFile('nginx.conf', conf)], { stdoutToNull: true });
    const log = () => (existsSync(accessLog) ? readFileSync(accessLog, 'utf8').trim().split('\n').filter(Boolean).map((l) => JSON.parse(l)) : []);
    try {
      await nginx.until('it answers', async () => (await localGet(18482, '/')).status === '200');
      await fn(log);
    } finally {
      await nginx.stop();
    }
  }
  /** The app behind nginx for fn; both stopped after. */
  async function withApp(m: Partial<NginxModel>, fn: (log: () => Record<string, unknown>[]) => Promise<void>) {
    const a = await app();
    try {
      await withNginx(a.port, m, fn);
    } finally {
      await a.close();
    }
  }
  /** One request to nginx (bounded: 5 s); onData sees each chunk as it arrives. */
  const request = (opts: { path?: string; method?: string; headers?: Record<string, string>; body?: Buffer; localAddress?: string; onData?: (chunk: string) => void }) =>
    new Promise<{ status: number; body: string }>((done, fail) => {
      const req = httpRequest({ host: '127.0.0.1', port: 18482, path: opts.path ?? '/', method: opts.method ?? 'GET', headers: opts.headers, localAddress: opts.localAddress, agent: false, timeout: 5000 }, (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (d: string) => {
          body += d;
          opts.onData?.(d);
        });
        res.on('end', () => done({ status: res.statusCode!, body }));
      });
      req.on('timeout', () => req.destroy(new Error('no answer within 5 s')));
      req.on('error', fail);
      req.end(opts.body);
    });

  it('takes the client from X-Real-IP only from the trusted proxies, keeps the Host port, passes the rest, and logs JSON with the client and the request id', async () => {
    await withApp({ trustedProxies: '127.0.0.2/32' }, async (log) => {
      const fromLb = { Host: 'shop.example:18443', 'X-Real-IP': '198.51.100.7', 'X-Forwarded-For': '198.51.100.7', 'X-Forwarded-Proto': 'https', 'X-Forwarded-Host': 'shop.example:18443', 'X-Request-ID': 'req-1' };
      const trusted = JSON.parse((await request({ headers: fromLb, localAddress: '127.0.0.2' })).body).headers;
      expect(trusted).toMatchObject({ host: 'shop.example:18443', 'x-real-ip': '198.51.100.7', 'x-forwarded-for': '198.51.100.7, 127.0.0.2', 'x-forwarded-proto': 'https', 'x-forwarded-host': 'shop.example:18443', 'x-request-id': 'req-1' });
      // From anywhere else, X-Real-IP is not believed: the client is the connection's source.
      const untrusted = JSON.parse((await request({ headers: { ...fromLb, 'X-Request-ID': 'req-2' }, localAddress: '127.0.0.3' })).body).headers;
      expect(untrusted).toMatchObject({ 'x-real-ip': '127.0.0.3', 'x-forwarded-for': '198.51.100.7, 127.0.0.3' });
      // A line is written once its request is done, which may be just after the client has the answer (bounded wait).
      for (let i = 0; i < 40 && !['req-1', 'req-2'].every((id) => log().some((e) => e.request_id === id)); i++) await new Promise((r) => setTimeout(r, 50));
      const entries = log();
      expect(entries.find((e) => e.request_id === 'req-1')).toMatchObject({ source: 'nginx', client: '198.51.100.7', peer: '127.0.0.2', method: 'GET', uri: '/', status: 200 });
      expect(entries.find((e) => e.request_id === 'req-2')).toMatchObject({ client: '127.0.0.3', peer: '127.0.0.3' });
      const entry = entries.find((e) => e.request_id === 'req-1')!;
      expect(typeof entry.total_s).toBe('number');
      expect(entry.upstream_response_s).toMatch(/^\d+\.\d{3}$/);
    });
  });

  it('passes a websocket upgrade through and tunnels its bytes both ways', async () => {
    await withApp({ trustedProxies: '127.0.0.1/32' }, async () => {
      const socket = connect(18482, '127.0.0.1');
      let got = '';
      socket.on('data', (d) => (got += d));
      socket.write('GET /chat HTTP/1.1\r\nHost: shop.example\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n');
      for (let i = 0; i < 50 && !got.includes('\r\n\r\n'); i++) await new Promise((r) => setTimeout(r, 50));
      expect(got).toMatch(/^HTTP\/1\.1 101 /);
      got = '';
      socket.write('ping through the tunnel');
      for (let i = 0; i < 50 && got !== 'ping through the tunnel'; i++) await new Promise((r) => setTimeout(r, 50));
      expect(got).toBe('ping through the tunnel');
      socket.destroy();
    });
  });

  it('passes server-sent events on as they come', async () => {
    await withApp({ trustedProxies: '127.0.0.1/32' }, async () => {
      const events: { data: string; at: number }[] = [];
      const started = Date.now();
      await request({ path: '/events', onData: (d) => events.push(...d.split('\n\n').filter(Boolean).map((e) => ({ data: e, at: Date.now() - started }))) });
      expect(events.map((e) => e.data)).toEqual(['data: first', 'data: second']);
      // The first arrived before the app sent the second, a second later.
      expect(events[1].at - events[0].at).toBeGreaterThan(700);
    });
  });

  it('passes a body up to clientMaxBodySize to the app, and answers 413 above it without asking the app', async () => {
    await withApp({ trustedProxies: '127.0.0.1/32', clientMaxBodySize: '64k' }, async (log) => {
      const under = await request({ method: 'POST', path: '/upload', body: Buffer.alloc(64 * 1024 - 1, 'x') });
      expect(under.status).toBe(200);
      expect(JSON.parse(under.body).bytes).toBe(64 * 1024 - 1);
      const over = await request({ method: 'POST', path: '/upload', body: Buffer.alloc(64 * 1024 + 1, 'x') });
      expect(over.status).toBe(413);
      expect(over.body).toContain('413 Request Entity Too Large');
      // nginx writes the 413's line once the connection is done: wait for it (bounded).
      for (let i = 0; i < 40 && log().filter((e) => e.uri === '/upload').length < 2; i++) await new Promise((r) => setTimeout(r, 50));
      // (Two nginx workers may write their lines in either order.)
      const uploads = log().filter((e) => e.uri === '/upload').sort((x, y) => Number(x.status) - Number(y.status));
      expect(uploads.map((e) => [e.status, e.upstream_response_s === '' || e.upstream_response_s === '-' ? 'app not asked' : 'app'])).toEqual([
        [200, 'app'],
        [413, 'app not asked'],
      ]);
    });
  });
});
