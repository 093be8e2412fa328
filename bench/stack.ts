// Parts 2-5, on the bench's own deployment of examples/basic (prefix dwsbench, 127.0.0.1:28080/28443).
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { containerOf, request, sleep, until } from '../test/e2e/harness';
import { BenchDeployment, COMPOSE, COMPOSE_VERSION, HTTPS_PORT, PREFIX, REPO, WORK, allHealthy, clientRun, docker, images, log, saveResult, sh, timed, type TimedLine } from './common';
import { composeFromState } from './compose';
import { median, parseWrkDuration, ratios } from './stats';

const deployment = new BenchDeployment();
const COMPOSE_FILE = join(WORK, 'compose.json');

/** Deploys unless our stack is already up, all healthy, with state. */
export async function ensureDeployed(): Promise<void> {
  if (allHealthy() && docker('ps', '--filter', `name=^${PREFIX}-lb$`, '--format', '{{.Label "com.docker.compose.project"}}') === '' && deployment.hasState()) return;
  deployment.wipe(); // also what a compose run left: same container, network and volume names
  log('cdktf deploy (setup)');
  await deployment.deploy();
}

export async function benchStackPart(part: string, runs: number): Promise<void> {
  if (part === 'deploy') return benchDeploy(runs);
  await ensureDeployed();
  if (part === 'lb') return benchLoadBalancer(runs);
  if (part === 'lag') return benchLag(runs);
  if (part === 'drill') return benchDrill(runs);
}

export function teardown(): void {
  deployment.wipe();
}

// ------------------------------------------------------------------ 3. load balancer overhead

interface WrkResult {
  requests: number;
  rps: number;
  p50us: number;
  p99us: number;
  non2xx: number;
  socketErrors: number;
}

function parseWrk(out: string): WrkResult {
  const num = (re: RegExp) => Number(re.exec(out)?.[1] ?? 0);
  const dist = (p: string) => parseWrkDuration(new RegExp(`^\\s*${p}%\\s+(\\S+)`, 'm').exec(out)?.[1] ?? 'NaNus');
  const sock = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(out);
  return {
    requests: num(/(\d+) requests in/),
    rps: num(/Requests\/sec:\s+([\d.]+)/),
    p50us: dist('50'),
    p99us: dist('99'),
    non2xx: num(/Non-2xx or 3xx responses: (\d+)/),
    socketErrors: sock ? sock.slice(1).reduce((a, b) => a + Number(b), 0) : 0,
  };
}

const TARGETS = {
  lb: { network: 'edge', url: `https://${PREFIX}-lb:443` },
  nginx: { network: 'app', url: `http://${PREFIX}-server-1-nginx:80` },
  // For the breakdown only: HAProxy answering by itself over plain HTTP (its stats port's
  // monitor URI), no TLS and no server behind it.
  haproxyAlone: { network: 'edge', url: `http://${PREFIX}-lb:8404` },
} as const;

/** Where the LB's stats port is reachable: its management network when the stack has one. */
const statsNetwork = () => (sh('docker', ['network', 'inspect', `${PREFIX}-mgmt`], { allowFail: true }).status === 0 ? 'mgmt' : 'edge');
const RATE = 200; // requests/s, paced: well below saturation (see the maximum throughput)
const CONNS = 10;
const PACED_SECONDS = 5;
const MAX_SECONDS = 5;
const MAX_CONNS = 32;

function wrk(target: keyof typeof TARGETS, path: string, paced: boolean, seconds: number): { result: WrkResult; command: string } {
  const t = target === 'haproxyAlone' ? { ...TARGETS[target], network: statsNetwork() } : TARGETS[target];
  const args = paced
    ? ['wrk', '-t1', `-c${CONNS}`, `-d${seconds}s`, '--latency', '-s', '/bench/paced.lua', `${t.url}${path}`]
    : ['wrk', '-t2', `-c${MAX_CONNS}`, `-d${seconds}s`, '--latency', `${t.url}${path}`];
  const env = paced ? { DELAY_MS: String((1000 * CONNS) / RATE) } : undefined;
  const r = clientRun(t.network, images().wrk, args, { mounts: [`${join(REPO, 'bench', 'wrk')}:/bench:ro`], env, timeoutMs: (seconds + 60) * 1000 });
  const command = `docker run --rm --network ${PREFIX}-${t.network} -v $PWD/bench/wrk:/bench:ro${env ? ` -e DELAY_MS=${env.DELAY_MS}` : ''} dws-wrk ${args.join(' ')}`;
  return { result: parseWrk(r.out), command };
}

/** HAProxy's own averages over its last 1024 requests (Prometheus endpoint on the stats port). */
function haproxyTimes(): Record<string, number> {
  const out = clientRun(statsNetwork(), images().wrk, ['curl', '-fsS', '--max-time', '5', `http://${PREFIX}-lb:8404/metrics`]).out;
  const pick = (metric: string) => {
    const m = new RegExp(`^${metric}\\{proxy="[^"]*(?:app|web|servers|backend)[^"]*"\\} ([\\d.e+-]+)`, 'm').exec(out) ?? new RegExp(`^${metric}\\{proxy="(?!stats)[^"]*"\\} ([\\d.e+-]+)`, 'm').exec(out);
    return m ? Number(m[1]) * 1e6 : NaN;
  };
  return {
    queueUs: pick('haproxy_backend_queue_time_average_seconds'),
    connectUs: pick('haproxy_backend_connect_time_average_seconds'),
    responseUs: pick('haproxy_backend_response_time_average_seconds'),
    totalUs: pick('haproxy_backend_total_time_average_seconds'),
  };
}

async function benchLoadBalancer(runs: number) {
  const paths = ['/', '/hello.txt'];
  for (const target of ['lb', 'nginx'] as const) wrk(target, '/', true, 2); // warm-up, not counted
  const paced: Record<string, { lb: WrkResult[]; nginx: WrkResult[] }> = {};
  const max = { lb: [] as WrkResult[], nginx: [] as WrkResult[] };
  const haproxy: Record<string, number>[] = [];
  const alone: WrkResult[] = [];
  const commands = new Set<string>();
  for (let i = 0; i < runs; i++) {
    for (const path of paths) {
      paced[path] ??= { lb: [], nginx: [] };
      for (const target of ['lb', 'nginx'] as const) {
        const { result, command } = wrk(target, path, true, PACED_SECONDS);
        paced[path][target].push(result);
        commands.add(command.replace(/\s+\S+$/, ' <url>'));
      }
    }
    alone.push(wrk('haproxyAlone', '/healthz', true, PACED_SECONDS).result);
    haproxy.push(haproxyTimes());
    for (const target of ['lb', 'nginx'] as const) {
      const { result, command } = wrk(target, '/', false, MAX_SECONDS);
      max[target].push(result);
      commands.add(command.replace(/\s+\S+$/, ' <url>'));
    }
    log(`lb run ${i + 1}/${runs}: / p50 lb ${paced['/'].lb[i].p50us} us vs nginx ${paced['/'].nginx[i].p50us} us; max lb ${max.lb[i].rps} vs nginx ${max.nginx[i].rps} req/s`);
  }
  saveResult('lb', {
    runs,
    rate: RATE,
    connections: CONNS,
    pacedSeconds: PACED_SECONDS,
    maxSeconds: MAX_SECONDS,
    maxConnections: MAX_CONNS,
    targets: TARGETS,
    commands: [...commands],
    paced,
    max,
    haproxy,
    haproxyAlone: alone,
    addedP50us: Object.fromEntries(paths.map((p) => [p, paced[p].lb.map((r, i) => r.p50us - paced[p].nginx[i].p50us)])),
    addedP99us: Object.fromEntries(paths.map((p) => [p, paced[p].lb.map((r, i) => r.p99us - paced[p].nginx[i].p99us)])),
    maxRatio: ratios(max.lb.map((r) => r.rps), max.nginx.map((r) => r.rps)),
  });
}

// ------------------------------------------------------------------ 5. replication lag

const LAG_RATE = 100;
const LAG_SECONDS = 15;

async function benchLag(runs: number) {
  // Inside an app container, through the router (the app user is accepted only from it).
  const app = containerOf(`${PREFIX}-server-1-app`);
  const password = docker('exec', `${PREFIX}-db-primary`, 'cat', '/etc/dws/secrets/app-password');
  const env = { PRIMARY: `${PREFIX}-db-router`, REPLICA: `${PREFIX}-db-router`, PASSWORD: password, RATE: String(LAG_RATE), SECONDS: String(LAG_SECONDS), RUNS: String(runs) };
  const script = readFileSync(join(REPO, 'bench', 'lag-client.js'), 'utf8');
  const r = sh('docker', ['exec', '-i', ...Object.entries(env).flatMap(([k, v]) => ['-e', `${k}=${v}`]), app, 'node', '-'], { input: script, timeoutMs: (LAG_SECONDS + 30) * runs * 1000 });
  const perRun = r.out.trim().split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l));
  perRun.forEach((p, i) => log(`lag run ${i + 1}/${runs}: p50 ${p.lagUsP50} us, p99 ${p.lagUsP99} us, ${p.writes} writes at ${p.achievedRate.toFixed(1)}/s`));
  saveResult('lag', {
    runs,
    rate: LAG_RATE,
    seconds: LAG_SECONDS,
    perRun,
    command: `docker exec -i -e PRIMARY=${env.PRIMARY} -e REPLICA=${env.REPLICA} -e PASSWORD=<app password> -e RATE=${LAG_RATE} -e SECONDS=${LAG_SECONDS} -e RUNS=${runs} ${app} node - < bench/lag-client.js`,
  });
}

// ------------------------------------------------------------------ 4. drills

const DRILL_INTERVAL_MS = 20;
const DRILL_DOWN_AFTER_MS = 2000;
const DRILL_SECONDS = 10;

async function benchDrill(runs: number) {
  const ca = deployment.outputs().web.certificate;
  const url = `https://127.0.0.1:${HTTPS_PORT}/`;
  const app1 = containerOf(`${PREFIX}-server-1-app`);
  const perRun: { requests: number; failed: number; errorWindowMs: number; failures: string[] }[] = [];
  for (let i = 0; i < runs; i++) {
    const failures: { t: number; what: string }[] = [];
    let requests = 0;
    let stopped = false;
    const t0 = Date.now();
    let stopping: Promise<unknown> | undefined;
    // Bounded: at most DRILL_SECONDS*1000/DRILL_INTERVAL_MS GETs over DRILL_SECONDS, one at a time.
    for (let n = 0; n < (DRILL_SECONDS * 1000) / DRILL_INTERVAL_MS && Date.now() - t0 < DRILL_SECONDS * 1000; n++) {
      if (!stopped && Date.now() - t0 >= DRILL_DOWN_AFTER_MS) {
        stopped = true;
        stopping = timed('docker', ['stop', '--time', '10', app1]);
      }
      const t = Date.now() - t0;
      requests++;
      const r = await request(url, { ca }).catch((e: Error) => ({ status: 0, body: e.message }));
      if (r.status !== 200) failures.push({ t, what: `${r.status} ${r.body.slice(0, 60)}` });
      await sleep(DRILL_INTERVAL_MS);
    }
    await stopping;
    docker('start', app1);
    const back = await until(() => (allHealthy() ? true : undefined), 60_000, 250);
    if (!back) throw new Error(`${app1} did not come back healthy`);
    await sleep(12_000); // HAProxy's slow start (10 s) before the next run
    const errorWindowMs = failures.length ? failures[failures.length - 1].t - failures[0].t + DRILL_INTERVAL_MS : 0;
    perRun.push({ requests, failed: failures.length, errorWindowMs, failures: failures.slice(0, 10).map((f) => `${f.t} ms: ${f.what}`) });
    log(`drill run ${i + 1}/${runs}: ${failures.length} of ${requests} GETs failed, error window ${errorWindowMs} ms`);
  }
  saveResult('drill', {
    runs,
    intervalMs: DRILL_INTERVAL_MS,
    downAfterMs: DRILL_DOWN_AFTER_MS,
    seconds: DRILL_SECONDS,
    perRun,
    command: `GET ${url} (fresh TLS connection each, one at a time, ${DRILL_INTERVAL_MS} ms apart, for ${DRILL_SECONDS} s); at ${DRILL_DOWN_AFTER_MS} ms: docker stop --time 10 ${app1}; then docker start ${app1}`,
  });
}

// ------------------------------------------------------------------ 2. deploy against compose

/** Where a cdktf deploy spends its time, from the timestamps of its output lines. */
export function deployTimeline(lines: TimedLine[], seconds: number) {
  const first = (re: RegExp) => lines.find((l) => re.test(l.line))?.t;
  const init = first(/Initializing the backend|Initializing provider plugins/);
  const plan = first(/Plan: \d+ to add|No changes\./);
  const applyStart = first(/: Creating\.\.\./);
  const applyEnd = first(/Apply complete!/);
  const started = new Map<string, number>();
  const resources: Record<string, number> = {};
  for (const l of lines) {
    const c = /(\w+\.\w+) \(([^)]+)\): Creating\.\.\./.exec(l.line);
    if (c) started.set(c[1], l.t);
    const d = /(\w+\.\w+) \(([^)]+)\): Creation complete/.exec(l.line);
    if (d && started.has(d[1])) resources[d[2]] = Number((l.t - started.get(d[1])!).toFixed(2));
  }
  return { seconds, synthAndStartup: init, initAndPlan: plan !== undefined && init !== undefined ? plan - init : undefined, planToApply: applyStart !== undefined && plan !== undefined ? applyStart - plan : undefined, apply: applyEnd !== undefined && applyStart !== undefined ? applyEnd - applyStart : undefined, afterApply: applyEnd !== undefined ? seconds - applyEnd : undefined, resources };
}

async function benchDeploy(runs: number) {
  await ensureDeployed();
  writeFileSync(COMPOSE_FILE, JSON.stringify(composeFromState(deployment.state()), null, 1));
  const noChange: ReturnType<typeof deployTimeline>[] = [];
  for (let i = 0; i < runs; i++) {
    const r = await deployment.deploy();
    if (!r.lines.some((l) => /No changes/.test(l.line))) throw new Error('a redeploy without changes planned changes');
    noChange.push(deployTimeline(r.lines, r.seconds));
    log(`no-change redeploy ${i + 1}/${runs}: ${r.seconds.toFixed(1)} s`);
  }
  const cold: ReturnType<typeof deployTimeline>[] = [];
  const compose: { seconds: number; lines: string[] }[] = [];
  for (let i = 0; i < runs; i++) {
    deployment.wipe();
    const c = await deployment.deploy();
    if (!allHealthy()) throw new Error('cdktf deploy returned before all containers were healthy');
    cold.push(deployTimeline(c.lines, c.seconds));
    deployment.wipe();
    const k = await timed(COMPOSE, ['-f', COMPOSE_FILE, 'up', '-d', '--wait'], { cwd: WORK, timeoutMs: 10 * 60_000 });
    if (k.status !== 0) throw new Error(`compose up failed:\n${k.lines.map((l) => l.line).join('\n')}`);
    if (!allHealthy()) throw new Error('compose up --wait returned before all containers were healthy');
    compose.push({ seconds: k.seconds, lines: k.lines.filter((l) => /Healthy|Started|Created/.test(l.line)).map((l) => `${l.t.toFixed(2)} ${l.line.trim()}`) });
    log(`cold deploy ${i + 1}/${runs}: cdktf ${c.seconds.toFixed(1)} s, compose ${k.seconds.toFixed(1)} s`);
  }
  deployment.wipe();
  saveResult('deploy', {
    runs,
    cold,
    compose,
    noChange,
    coldOverCompose: ratios(cold.map((c) => c.seconds), compose.map((c) => c.seconds)),
    composeVersion: COMPOSE_VERSION,
    commands: [
      `cdktf deploy --auto-approve --skip-provider-lock --outputs-file outputs.json   # in bench/.work/deploy, app: npx tsx examples/basic/main.ts, env DWS_NAME_PREFIX=${PREFIX} DWS_HTTP_PORT=28080 DWS_HTTPS_PORT=${HTTPS_PORT} + the testbed's env.sh`,
      `docker-compose -f bench/.work/compose.json up -d --wait   # Compose v2; compose.json written from the deploy's Terraform state (bench/compose.ts)`,
    ],
  });
  log(`cold/compose median ratio ${median(ratios(cold.map((c) => c.seconds), compose.map((c) => c.seconds))).toFixed(2)}`);
}
