import { spawnSync, SpawnSyncReturns } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { request } from 'node:http';
import { join } from 'node:path';

/** Runs a real program; a missing program fails the test with how to install it. */
export function run(cmd: string, args: string[], opts: { input?: string; timeoutMs?: number; stdoutToNull?: boolean } = {}): SpawnSyncReturns<string> {
  const r = spawnSync(cmd, args, {
    encoding: 'utf8',
    input: opts.input,
    timeout: opts.timeoutMs ?? 30_000,
    // Node's pipes are sockets, which a program cannot open() as /dev/stdout; Docker's are not.
    stdio: ['pipe', opts.stdoutToNull ? 'ignore' : 'pipe', 'pipe'],
  });
  if (r.error && (r.error as NodeJS.ErrnoException).code === 'ENOENT') {
    throw new Error(`${cmd} is not installed: apt-get install -y haproxy nginx-light mariadb-server iptables prometheus prometheus-alertmanager prometheus-blackbox-exporter (.ci/run does this)`);
  }
  if (r.error) throw r.error;
  return r;
}

export function tempFile(name: string, content: string): string {
  const dir = mkdtempSync(join(tmpdir(), 'dws-config-'));
  const file = join(dir, name);
  writeFileSync(file, content);
  return file;
}

/** One GET to 127.0.0.1: status and body, or the error code. */
export function localGet(port: number, path: string): Promise<{ status: string; body: string }> {
  return new Promise((done) => {
    const req = request({ host: '127.0.0.1', port, path, agent: false, timeout: 2000 }, (res) => {
      let body = '';
      res.on('data', (d) => (body += d));
      res.on('end', () => done({ status: String(res.statusCode), body }));
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', (e: NodeJS.ErrnoException) => done({ status: e.code ?? e.message, body: '' }));
    req.end();
  });
}
