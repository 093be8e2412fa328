import { execFile } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Deployment, REPO, docker, images, leftovers, removeLeftovers, sh, until } from './harness';

// examples/basic with a load balancer pair (keepalived, floating IP on the edge network), checked
// from a client container on the edge network, then destroyed. Figures go to the log and
// test/e2e/.work/pair.json.

const prefix = 'e2e-pair';
const subnet = '10.214.0.0/24';
const vip = '10.214.0.10';
const nodes = [`${prefix}-lb-1`, `${prefix}-lb-2`];

// A client on the edge network: one GET every 20 ms to the floating IP, each on a fresh
// connection with a 1 s timeout, not waiting for the previous one; bounded by SECONDS.
// Prints one JSON line: every request's send time (ms from start) and whether it got a 200.
const CLIENT = `
const https = require('https');
const { URL_, CA, SECONDS } = process.env;
const started = Date.now();
const results = [];
const pending = [];
function one() {
  const t = Date.now() - started;
  pending.push(new Promise((done) => {
    const req = https.get(URL_, { ca: CA, agent: false, timeout: 1000 }, (res) => {
      res.resume();
      res.on('end', () => { results.push([t, res.statusCode === 200 ? 1 : 0]); done(); });
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', () => { results.push([t, 0]); done(); });
  }));
}
const timer = setInterval(() => {
  if (Date.now() - started >= Number(SECONDS) * 1000 || results.length + pending.length > 5000) {
    clearInterval(timer);
    Promise.all(pending).then(() => console.log(JSON.stringify(results.sort((a, b) => a[0] - b[0]))));
  } else one();
}, 20);
`;

/** From the first failed request to the first successful one sent after it (0 if none failed). */
function errorWindow(results: [number, number][]): { requests: number; failed: number; windowMs: number; lastFailureMs: number | undefined } {
  const firstFailure = results.find(([, ok]) => !ok)?.[0];
  const failed = results.filter(([, ok]) => !ok);
  if (firstFailure === undefined) return { requests: results.length, failed: 0, windowMs: 0, lastFailureMs: undefined };
  const recovered = results.find(([t, ok]) => ok && t > firstFailure)?.[0] ?? Infinity;
  return { requests: results.length, failed: failed.length, windowMs: recovered - firstFailure, lastFailureMs: failed[failed.length - 1][0] };
}

describe('a load balancer pair with a floating IP on a real Docker engine', () => {
  const deployment = new Deployment('pair', { DWS_DB_ENGINE: 'mariadb', DWS_NAME_PREFIX: prefix, DWS_LB_PAIR_SUBNET: subnet });
  const figures: Record<string, unknown> = {};
  let ca = '';

  /** Runs the client for `seconds` on the edge network; `fault` runs after 3 s. */
  const underLoad = async (seconds: number, fault: () => void) => {
    const client = new Promise<string>((resolve, reject) =>
      execFile('docker', ['run', '--rm', '--network', `${prefix}-edge`, '-e', `URL_=https://${vip}/`, '-e', `CA=${ca}`, '-e', `SECONDS=${seconds}`, images().node, 'node', '-e', CLIENT], { timeout: (seconds + 60) * 1000 }, (e, out, err) =>
        e ? reject(new Error(`${e.message}\n${err}`)) : resolve(out),
      ),
    );
    await new Promise((r) => setTimeout(r, 3000));
    fault();
    return errorWindow(JSON.parse((await client).trim().split('\n').pop()!));
  };
  /** The node that holds the floating IP, if exactly one does. */
  const holder = () => {
    const holding = nodes.filter((n) => sh('docker', ['exec', n, 'ip', '-4', '-o', 'addr'], { allowFail: true }).out.includes(` ${vip}/`));
    return holding.length === 1 ? holding[0] : undefined;
  };
  const healthy = (n: string) => until(() => (docker('inspect', '--format', '{{.State.Health.Status}}', n) === 'healthy' ? true : undefined), 90_000, 500);
  const other = (n: string) => nodes.find((x) => x !== n)!;

  beforeAll(() => {
    if (deployment.hasState()) deployment.destroy();
    removeLeftovers(prefix);
    const { seconds } = deployment.deploy();
    figures.deploySeconds = seconds;
    const outputs = deployment.outputs();
    ca = outputs.web.certificate;
    expect(outputs.web.url).toBe(`https://${vip}:443/`);
  });

  afterAll(() => {
    const left = leftovers(prefix);
    if (left.containers.length + left.networks.length + left.volumes.length > 0) {
      if (deployment.hasState()) {
        try {
          deployment.destroy();
        } catch (e) {
          console.error(`[pair] destroy after failure: ${(e as Error).message.slice(-500)}`);
        }
      }
      removeLeftovers(prefix);
    }
    mkdirSync(join(REPO, 'test', 'e2e', '.work'), { recursive: true });
    writeFileSync(join(REPO, 'test', 'e2e', '.work', 'pair.json'), JSON.stringify(figures, null, 2));
    console.log(`[pair] figures: ${JSON.stringify(figures)}`);
  });

  it('serves through the floating IP, held by exactly one node, and publishes no port', async () => {
    expect(await until(holder, 30_000, 500)).toBeDefined();
    for (const n of nodes) expect(docker('port', n)).toBe('');
    const r = await underLoad(3, () => undefined);
    expect(r).toMatchObject({ failed: 0 });
    expect(r.requests).toBeGreaterThan(100);
  });

  it('is monitored on both nodes, and the floating IP is probed over verified HTTPS', async () => {
    const fromMgmt = (u: string) => sh('docker', ['run', '--rm', '--network', `${prefix}-mgmt`, images().nginx, 'curl', '-sS', '--max-time', '5', u], { timeoutMs: 60_000 }).out;
    const query = (q: string) =>
      (JSON.parse(fromMgmt(`http://${prefix}-prometheus-mgmt:9090/api/v1/query?query=${encodeURIComponent(q)}`)).data.result as { metric: Record<string, string>; value: [number, string] }[]).map(
        (r) => `${r.metric.instance} ${r.value[1]}`,
      );
    // Bounded: the first scrapes within 90 s.
    const seen = await until(() => {
      const v = { haproxy: query('up{job="haproxy"}').sort(), probe: query('probe_success') };
      return v.haproxy.join() === `${prefix}-lb-1-mgmt:8404 1,${prefix}-lb-2-mgmt:8404 1` && v.probe.join() === `https://${vip}:443/ 1` ? v : undefined;
    }, 90_000, 3000);
    figures.monitoring = seen;
    expect(seen).toBeDefined();
  });

  it('drill: kill -9 of the active HAProxy: the other node takes the IP within 3 s', async () => {
    const active = (await until(holder, 30_000, 500))!;
    // Every haproxy process of the node (master and worker).
    const kill = `for p in /proc/[0-9]*; do [ "$(cat $p/comm 2>/dev/null)" = haproxy ] && kill -9 "\${p#/proc/}"; done; true`;
    const r = await underLoad(10, () => docker('exec', active, 'bash', '-c', kill));
    const now = holder();
    figures.killHaproxy = { ...r, from: active, to: now };
    console.log(`[pair] kill -9 haproxy on ${active}: ${JSON.stringify(r)}, IP now on ${now}`);
    expect(now).toBe(other(active));
    expect(r.windowMs).toBeLessThanOrEqual(3000);
    // The killed node comes back (restart policy) as the backup: the IP stays where it is.
    expect(await healthy(active)).toBe(true);
    await new Promise((res) => setTimeout(res, 3000));
    expect(holder()).toBe(other(active));
  });

  it('drill: docker kill of the active load balancer container: the other node takes the IP within 3 s', async () => {
    const active = (await until(holder, 30_000, 500))!;
    const r = await underLoad(10, () => docker('kill', active));
    const now = holder();
    figures.killContainer = { ...r, from: active, to: now };
    console.log(`[pair] docker kill ${active}: ${JSON.stringify(r)}, IP now on ${now}`);
    docker('start', active);
    expect(now).toBe(other(active));
    expect(r.windowMs).toBeLessThanOrEqual(3000);
    expect(await healthy(active)).toBe(true);
  });

  it('hands the IP over on docker stop of the active node (no failover wait)', async () => {
    const active = (await until(holder, 30_000, 500))!;
    const r = await underLoad(8, () => docker('stop', active));
    const now = holder();
    figures.stopContainer = { ...r, from: active, to: now };
    console.log(`[pair] docker stop ${active}: ${JSON.stringify(r)}, IP now on ${now}`);
    docker('start', active);
    expect(now).toBe(other(active));
    expect(r.windowMs).toBeLessThanOrEqual(3000);
    expect(await healthy(active)).toBe(true);
  });

  it('leaves no container, network or volume after cdktf destroy', () => {
    const { seconds } = deployment.destroy();
    figures.destroySeconds = seconds;
    expect(leftovers(prefix)).toEqual({ containers: [], networks: [], volumes: [] });
  });
});
