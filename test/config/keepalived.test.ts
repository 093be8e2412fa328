import { ChildProcess, spawn } from 'node:child_process';
import { chmodSync, existsSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer, Server } from 'node:http';
import { AddressInfo } from 'node:net';
import { dirname, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  KEEPALIVED_INTERFACE_PLACEHOLDER,
  KeepalivedModel,
  renderKeepalivedConfig,
  renderLbHealthCheck,
  renderLbNodeSupervisor,
} from '../../src/load-balancer/render/keepalived';
import { run, tempFile } from './real-programs';

const model: KeepalivedModel = {
  routerId: 51,
  authPass: 'secret12',
  priority: 150,
  sourceAddress: '10.213.0.11',
  peerAddress: '10.213.0.12',
  virtualIp: '10.213.0.10',
  prefixLength: 24,
  advertIntervalSeconds: 0.25,
  preempt: false,
  checkScriptPath: '/usr/local/bin/lb-check',
  checkIntervalSeconds: 1,
};

/** keepalived refuses loopback for VRRP: use a real interface of this host, as the supervisor would. */
function hostInterface(): string {
  const r = run('ip', ['-o', '-4', 'addr', 'show']);
  const iface = r.stdout.split('\n').map((l) => l.split(/\s+/)[1]).find((n) => n && n !== 'lo');
  if (!iface) throw new Error('no IPv4 interface besides lo on this host');
  return iface;
}

/**
 * `keepalived --config-test`: exit 0 and nothing on stderr when the config is clean; anything it
 * ignores or corrects (unknown keyword, out-of-range value, missing or insecure script) is
 * printed and the exit code is non-zero. The check script is the real one, root-owned, 0755.
 */
function check(cfg: string) {
  const script = tempFile('lb-check', renderLbHealthCheck({ statsPort: 8404, timeoutSeconds: 1 }));
  chmodSync(script, 0o755);
  const text = cfg.split(KEEPALIVED_INTERFACE_PLACEHOLDER).join(hostInterface()).split(model.checkScriptPath).join(script);
  const r = run('keepalived', ['--config-test', '-f', tempFile('keepalived.conf', text)]);
  return { status: r.status, output: (r.stdout + r.stderr).trim() };
}

describe('renderKeepalivedConfig, checked by keepalived --config-test', { tags: ['keepalived'] }, () => {
  it('renders a config keepalived accepts without a message (fractional advert: VRRPv3, no auth)', () => {
    const cfg = renderKeepalivedConfig(model);
    expect(check(cfg)).toEqual({ status: 0, output: '' });
    expect(cfg).toContain('  version 3\n  advert_int 0.25\n  nopreempt\n');
    // VRRPv3 has no authentication: keepalived would ignore it with a warning.
    expect(cfg).not.toContain('authentication');
    expect(cfg).toContain(`  interface ${KEEPALIVED_INTERFACE_PLACEHOLDER}\n`);
    expect(cfg).toContain(`    10.213.0.10/24 dev ${KEEPALIVED_INTERFACE_PLACEHOLDER}\n`);
  });

  it('whole-second advert: VRRPv2 with PASS authentication', () => {
    const cfg = renderKeepalivedConfig({ ...model, advertIntervalSeconds: 1 });
    expect(check(cfg)).toEqual({ status: 0, output: '' });
    expect(cfg).toContain('  version 2\n  advert_int 1\n');
    expect(cfg).toContain('    auth_type PASS\n    auth_pass secret12\n');
    expect(check(renderKeepalivedConfig({ ...model, advertIntervalSeconds: 1, authPass: undefined }))).toEqual({ status: 0, output: '' });
  });

  it('preempt on and off', () => {
    const on = renderKeepalivedConfig({ ...model, preempt: true });
    expect(on).not.toContain('nopreempt');
    expect(check(on)).toEqual({ status: 0, output: '' });
    expect(renderKeepalivedConfig(model)).toContain('nopreempt');
  });

  it('accepts every setting at its limits', () => {
    for (const m of [
      { routerId: 1, priority: 1, advertIntervalSeconds: 0.01, checkIntervalSeconds: 1 },
      { routerId: 255, priority: 254, advertIntervalSeconds: 40.95, checkIntervalSeconds: 60 },
      { routerId: 255, priority: 254, advertIntervalSeconds: 255, checkIntervalSeconds: 60 },
    ]) {
      expect(check(renderKeepalivedConfig({ ...model, ...m })), JSON.stringify(m)).toEqual({ status: 0, output: '' });
    }
  });

  it('is a check that can fail: out-of-range values and a broken keyword are reported', () => {
    for (const bad of [{ routerId: 256 }, { priority: 255 }, { advertIntervalSeconds: 40.96 }, { checkIntervalSeconds: 0 }]) {
      const r = check(renderKeepalivedConfig({ ...model, ...bad }));
      expect(r.status, JSON.stringify(bad)).not.toBe(0);
      expect(r.output).not.toBe('');
    }
    expect(check(renderKeepalivedConfig(model).replace('nopreempt', 'nopreemptx')).status).not.toBe(0);
  });

  it('interpolates a Terraform token as the password and has no other template syntax', () => {
    const token = '${TfToken[TOKEN.12]}';
    const cfg = renderKeepalivedConfig({ ...model, advertIntervalSeconds: 1, authPass: token });
    expect(cfg).toContain(`    auth_pass ${token}\n`);
    const texts = [
      cfg.replace(token, ''),
      renderKeepalivedConfig(model),
      renderLbNodeSupervisor({ haproxyConfigPath: '/h.cfg', keepalivedTemplatePath: '/k.tmpl', sourceAddress: '10.0.0.1' }),
      renderLbHealthCheck({ statsPort: 8404, timeoutSeconds: 1 }),
    ];
    for (const t of texts) expect(t).not.toMatch(/[$%]\{/);
  });
});

describe('the two bash scripts', () => {
  it('parse (bash -n)', () => {
    for (const text of [
      renderLbNodeSupervisor({ haproxyConfigPath: '/usr/local/etc/haproxy/haproxy.cfg', keepalivedTemplatePath: '/etc/keepalived/keepalived.conf.tmpl', sourceAddress: '10.213.0.11' }),
      renderLbHealthCheck({ statsPort: 8404, timeoutSeconds: 1 }),
    ]) {
      const r = run('bash', ['-n', tempFile('script.sh', text)]);
      expect(r.status, r.stderr).toBe(0);
    }
    // And the check can fail.
    expect(run('bash', ['-n', tempFile('script.sh', 'if then fi\n')]).status).not.toBe(0);
  });
});

/** Runs a script with bash; resolves with its exit code (or kills it after timeoutMs). */
function bash(script: string, env: NodeJS.ProcessEnv = {}, timeoutMs = 10_000): { child: ChildProcess; exited: Promise<number | null> } {
  const child = spawn('bash', [script], { env: { ...process.env, ...env }, stdio: 'ignore' });
  const exited = new Promise<number | null>((done, fail) => {
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.on('error', (e) => {
      clearTimeout(timer);
      fail(e);
    });
    child.on('exit', (code) => {
      clearTimeout(timer);
      done(code);
    });
  });
  return { child, exited };
}

describe('renderLbHealthCheck, run by bash against a local server', () => {
  let status = 200;
  let server: Server;
  let silent: Server;
  const port = (s: Server) => (s.address() as AddressInfo).port;
  beforeAll(async () => {
    server = createServer((req, res) => {
      res.statusCode = req.url === '/healthz' ? status : 404;
      res.end('x');
    });
    // Accepts connections and never answers: a hung HAProxy.
    silent = createServer(() => {});
    await Promise.all([server, silent].map((s) => new Promise<void>((ok) => s.listen(0, '127.0.0.1', ok))));
  });
  afterAll(() => {
    server.close();
    silent.closeAllConnections();
    silent.close();
  });
  const probe = (p: number) => bash(tempFile('lb-check', renderLbHealthCheck({ statsPort: p, timeoutSeconds: 1 }))).exited;

  it('exits 0 on 200, non-zero on 503, a closed port or no answer within the timeout', async () => {
    status = 200;
    expect(await probe(port(server))).toBe(0);
    status = 503;
    expect(await probe(port(server))).not.toBe(0);
    const closed = createServer();
    await new Promise<void>((ok) => closed.listen(0, '127.0.0.1', ok));
    const closedPort = port(closed);
    await new Promise((ok) => closed.close(ok));
    expect(await probe(closedPort)).not.toBe(0);
    const started = Date.now();
    expect(await probe(port(silent))).not.toBe(0);
    expect(Date.now() - started).toBeLessThan(3000);
  });
});

/**
 * The supervisor, run by bash with stand-ins for keepalived and haproxy that log the signals
 * they get; this node's address is 127.0.0.1, so the interface found is lo.
 */
describe('renderLbNodeSupervisor, run by bash with stand-in daemons', { tags: ['iproute2'] }, () => {
  function setUp() {
    const dir = dirname(tempFile('x', ''));
    const log = join(dir, 'log');
    writeFileSync(log, '');
    // Each stand-in lives at most 30 s.
    writeFileSync(join(dir, 'keepalived'), [
      '#!/bin/bash',
      'echo "keepalived $(grep -c "interface lo$" "$5") $(grep -c __LB_INTERFACE__ "$5")" >> "$LOG"',
      'trap \'echo "keepalived TERM" >> "$LOG"; exit 0\' TERM',
      'for ((i = 0; i < 300; i++)); do sleep 0.1; done',
    ].join('\n'), { mode: 0o755 });
    writeFileSync(join(dir, 'haproxy'), [
      '#!/bin/bash',
      'echo "haproxy $*" >> "$LOG"',
      'echo $$ > "$DIR/haproxy.pid"',
      'trap \'echo "haproxy USR2" >> "$LOG"\' USR2',
      'trap \'echo "haproxy USR1" >> "$LOG"; exit 0\' USR1',
      'for ((i = 0; i < 300; i++)); do sleep 0.1; done',
    ].join('\n'), { mode: 0o755 });
    const template = join(dir, 'keepalived.conf.tmpl');
    writeFileSync(template, `vrrp_instance VI_1 {\n  interface ${KEEPALIVED_INTERFACE_PLACEHOLDER}\n}\n`);
    const script = join(dir, 'lb-node');
    writeFileSync(script, renderLbNodeSupervisor({ haproxyConfigPath: '/h.cfg', keepalivedTemplatePath: template, sourceAddress: '127.0.0.1' }));
    const { child, exited } = bash(script, { PATH: `${dir}:${process.env.PATH}`, TMPDIR: dir, LOG: log, DIR: dir }, 20_000);
    const lines = () => readFileSync(log, 'utf8').trim().split('\n').filter((l) => l);
    const until = async (what: () => boolean) => {
      for (let i = 0; i < 100 && !what(); i++) await new Promise((ok) => setTimeout(ok, 50));
      expect(what(), lines().join(' | ')).toBe(true);
    };
    return { dir, child, exited, lines, until };
  }

  it('forwards USR2 to haproxy; on TERM stops keepalived first, then haproxy softly, and exits 0', async () => {
    const s = setUp();
    await s.until(() => s.lines().length === 2 && existsSync(join(s.dir, 'haproxy.pid')));
    // keepalived got the config with the interface filled in; haproxy in master-worker mode.
    expect(s.lines().sort()).toEqual(['haproxy -W -db -f /h.cfg', 'keepalived 1 0']);
    s.child.kill('SIGUSR2');
    await s.until(() => s.lines().includes('haproxy USR2'));
    s.child.kill('SIGUSR2');
    await s.until(() => s.lines().filter((l) => l === 'haproxy USR2').length === 2);
    s.child.kill('SIGTERM');
    expect(await s.exited).toBe(0);
    expect(s.lines().slice(-2)).toEqual(['keepalived TERM', 'haproxy USR1']);
  });

  it('when haproxy dies, stops keepalived and exits 1 (Docker restarts the node)', async () => {
    const s = setUp();
    await s.until(() => s.lines().length === 2 && existsSync(join(s.dir, 'haproxy.pid')));
    process.kill(Number(readFileSync(join(s.dir, 'haproxy.pid'), 'utf8')), 'SIGKILL');
    expect(await s.exited).toBe(1);
    expect(s.lines().slice(-1)).toEqual(['keepalived TERM']);
  });
});
