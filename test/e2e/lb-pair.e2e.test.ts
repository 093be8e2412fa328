import { execFile } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Deployment, cleanUpAfterFailure, destroyPastStaleEndpoints, docker, getFrom, healthyWithin, images, leftovers, removeLeftovers, saveFigures, sh, until } from './harness';

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
  const healthy = (n: string) => healthyWithin(n, 90_000);
  const other = (n: string) => nodes.find((x) => x !== n)!;
  /**
   * Runs `fault` on the node holding the IP, under load; records and logs the error window and
   * where the IP went, and checks it went to the other node within 3 s (CI's bound; the goal is 1 s).
   */
  const failover = async (figure: string, what: string, seconds: number, fault: (active: string) => void) => {
    const active = (await until(holder, 30_000, 500))!;
    const r = await underLoad(seconds, () => fault(active));
    const now = holder();
    figures[figure] = { ...r, from: active, to: now };
    console.log(`[pair] ${what} ${active}: ${JSON.stringify(r)}, IP now on ${now}`);
    const check = () => {
      expect(now).toBe(other(active));
      expect(r.windowMs).toBeLessThanOrEqual(3000);
    };
    return { active, check };
  };

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
    cleanUpAfterFailure(deployment, prefix);
    saveFigures('pair', figures);
  });

  it('serves through the floating IP, held by exactly one node, and publishes no port', async () => {
    expect(await until(holder, 30_000, 500)).toBeDefined();
    for (const n of nodes) expect(docker('port', n)).toBe('');
    const r = await underLoad(3, () => undefined);
    expect(r).toMatchObject({ failed: 0 });
    expect(r.requests).toBeGreaterThan(100);
  });

  it('is monitored on both nodes, and the floating IP is probed over verified HTTPS', async () => {
    const query = (q: string) =>
      (JSON.parse(getFrom(`${prefix}-mgmt`, `http://${prefix}-prometheus-mgmt:9090/api/v1/query?query=${encodeURIComponent(q)}`)).data.result as { metric: Record<string, string>; value: [number, string] }[]).map(
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
    // Every haproxy process of the node (master and worker).
    const kill = `for p in /proc/[0-9]*; do [ "$(cat $p/comm 2>/dev/null)" = haproxy ] && kill -9 "\${p#/proc/}"; done; true`;
    const { active, check } = await failover('killHaproxy', 'kill -9 haproxy on', 10, (n) => docker('exec', n, 'bash', '-c', kill));
    check();
    // The killed node comes back (restart policy) as the backup: the IP stays where it is.
    expect(await healthy(active)).toBe(true);
    await new Promise((res) => setTimeout(res, 3000));
    expect(holder()).toBe(other(active));
  });

  it('drill: docker kill of the active load balancer container: the other node takes the IP within 3 s', async () => {
    const { active, check } = await failover('killContainer', 'docker kill', 10, (n) => docker('kill', n));
    docker('start', active);
    check();
    expect(await healthy(active)).toBe(true);
  });

  it('hands the IP over on docker stop of the active node (no failover wait)', async () => {
    const { active, check } = await failover('stopContainer', 'docker stop', 8, (n) => docker('stop', n));
    docker('start', active);
    check();
    expect(await healthy(active)).toBe(true);
  });

  it('leaves no container, network or volume after cdktf destroy but the backups\' archive', () => {
    const { seconds, staleEndpoints } = destroyPastStaleEndpoints(deployment, prefix);
    figures.destroySeconds = seconds;
    if (staleEndpoints.length) figures.staleEndpoints = staleEndpoints;
    // Only the backups' archive, which is not a Terraform resource so that it outlives the stack.
    expect(leftovers(prefix)).toEqual({ containers: [], networks: [], volumes: [`${prefix}-db-backups`] });
    docker('volume', 'rm', `${prefix}-db-backups`);
  });
});
