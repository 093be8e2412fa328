// `npm run demo`: examples/basic deployed onto a local Docker engine and shown running (URL,
// certificate, which app server answers, replication). `npm run demo -- destroy` removes it.
//
// Which Docker: the user's own engine when one answers and already has the library's default
// (official) images; otherwise the project's testbed (test/e2e/testbed/setup.sh, as root: a
// Docker engine, local images, terraform and an offline provider mirror).
//
// Environment (all optional):
//   DWS_DEMO_DOCKER      "auto" (default), "own" (your engine; Docker pulls the official images,
//                        cdktf gets the providers from the registry) or "testbed"
//   DWS_DEMO_ENGINE      "mysql" (default) or "mariadb"
//   DWS_DEMO_HTTP_PORT   host port on 127.0.0.1 for HTTP, which redirects to HTTPS (default 19080)
//   DWS_DEMO_HTTPS_PORT  host port on 127.0.0.1 for HTTPS (default 19443)
//
// Everything lives in .demo/ (cdktf project, state, outputs, the certificate) and every Docker
// object is named dws-demo-*. The script itself talks only to 127.0.0.1 and, through
// `docker exec`, to the stack's containers.
import { spawnSync } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join, relative } from 'node:path';
import { DEFAULT_IMAGES, DEFAULT_MONITORING_IMAGES } from '../src';
import { Deployment, Engine, REPO, dbRoot, docker, leftovers, removeLeftovers, replicaFields, request, sh, testbedEnv, until } from '../test/e2e/harness';

const WORK = join(REPO, '.demo');
const PREFIX = 'dws-demo';
const SETTINGS_FILE = join(WORK, 'demo.json');
const CERT_FILE = join(WORK, 'certificate.pem');
const SETUP = join(REPO, 'test', 'e2e', 'testbed', 'setup.sh');
const TESTBED_CACHE = process.env.DWS_TESTBED_CACHE ?? '/var/cache/dws-testbed';

const SETUP_TIMEOUT_S = 30 * 60; // setup.sh: about 10 min cold, 10 s warm
const HEALTHY_TIMEOUT_S = 180;
const SERVING_TIMEOUT_S = 90;
const GETS = 6;

type DockerChoice = 'testbed' | 'own';
interface Settings {
  docker: DockerChoice;
  engine: Engine;
  httpPort: number;
  httpsPort: number;
}

/** A failure with a message for the user (no stack trace). */
class DemoError extends Error {}

const say = (msg = '') => console.log(msg);
const seconds = (ms: number) => `${Math.round(ms / 1000)} s`;

// ------------------------------------------------------------------ arguments and environment

const USAGE = `usage: npm run demo [-- deploy | destroy]
  deploy   (default) deploy examples/basic onto a local Docker engine and show it running
  destroy  remove everything the demo created
env: DWS_DEMO_DOCKER=auto|own|testbed, DWS_DEMO_ENGINE=mysql|mariadb, DWS_DEMO_HTTP_PORT (19080), DWS_DEMO_HTTPS_PORT (19443)`;

function command(argv: string[]): 'deploy' | 'destroy' | 'help' {
  if (argv.length > 1) throw new DemoError(`expected at most one argument, got ${argv.length} (${argv.map((a) => `'${a}'`).join(' ')}): allowed are 'deploy' (the default) or 'destroy'\n${USAGE}`);
  const [arg = 'deploy'] = argv;
  if (arg === 'deploy' || arg === 'destroy') return arg;
  if (arg === 'help' || arg === '--help' || arg === '-h') return 'help';
  throw new DemoError(`unknown argument '${arg}': allowed are 'deploy' (the default) or 'destroy'\n${USAGE}`);
}

function envChoice<T extends string>(name: string, allowed: readonly T[], fallback: T): T {
  const v = process.env[name];
  if (v === undefined || v === '') return fallback;
  if (!(allowed as readonly string[]).includes(v)) throw new DemoError(`${name} must be one of ${allowed.map((a) => `'${a}'`).join(', ')} (got '${v}')`);
  return v as T;
}

function envPort(name: string, fallback: number): number {
  const v = process.env[name];
  if (v === undefined || v === '') return fallback;
  const n = Number(v);
  if (!/^\d+$/.test(v) || n < 1 || n > 65535) throw new DemoError(`${name} must be a port number between 1 and 65535 (got '${v}')`);
  return n;
}

function settingsFromEnv(): Omit<Settings, 'docker'> & { docker: DockerChoice | 'auto' } {
  const s = {
    docker: envChoice('DWS_DEMO_DOCKER', ['auto', 'own', 'testbed'] as const, 'auto'),
    engine: envChoice('DWS_DEMO_ENGINE', ['mysql', 'mariadb'] as const, 'mysql'),
    httpPort: envPort('DWS_DEMO_HTTP_PORT', 19080),
    httpsPort: envPort('DWS_DEMO_HTTPS_PORT', 19443),
  };
  if (s.httpPort === s.httpsPort) throw new DemoError(`DWS_DEMO_HTTP_PORT and DWS_DEMO_HTTPS_PORT must differ (both ${s.httpPort})`);
  return s;
}

/** What the last deploy used (written before it starts, so a failed deploy can be destroyed). */
function recordedSettings(): Settings | undefined {
  return existsSync(SETTINGS_FILE) ? (JSON.parse(readFileSync(SETTINGS_FILE, 'utf8')) as Settings) : undefined;
}

// ------------------------------------------------------------------ which Docker

/** The engine's version, or undefined when no engine answers (bounded: 15 s). */
function engineVersion(): string | undefined {
  try {
    const r = sh('docker', ['version', '--format', '{{.Server.Version}}'], { allowFail: true, timeoutMs: 15_000 });
    return r.status === 0 ? r.out.trim() : undefined;
  } catch {
    return undefined; // no docker client, or it hung
  }
}

/** The images examples/basic uses when no DWS_IMAGES_JSON says otherwise (Grafana is off there). */
function officialImages(engine: Engine): string[] {
  const nodeBase = /^ARG BASE_IMAGE=(\S+)$/m.exec(readFileSync(join(REPO, 'examples', 'app', 'Dockerfile'), 'utf8'))?.[1];
  const { grafana: _off, ...monitoring } = DEFAULT_MONITORING_IMAGES;
  return [DEFAULT_IMAGES.haproxy, DEFAULT_IMAGES.nginx, DEFAULT_IMAGES[engine], ...(nodeBase ? [nodeBase] : []), ...Object.values(monitoring)];
}

const missingImages = (engine: Engine) => officialImages(engine).filter((i) => sh('docker', ['image', 'inspect', i], { allowFail: true, timeoutMs: 30_000 }).status !== 0);

function chooseDocker(wanted: DockerChoice | 'auto', engine: Engine): { docker: DockerChoice; why: string } {
  const version = engineVersion();
  if (wanted === 'testbed') return { docker: 'testbed', why: 'DWS_DEMO_DOCKER=testbed' };
  if (wanted === 'own') {
    if (!version) throw new DemoError('DWS_DEMO_DOCKER=own, but no Docker engine answers (`docker version` shows no server): start your engine, or leave DWS_DEMO_DOCKER unset to use the testbed');
    return { docker: 'own', why: `DWS_DEMO_DOCKER=own (engine ${version})` };
  }
  if (!version) return { docker: 'testbed', why: 'no Docker engine answers' };
  const missing = missingImages(engine);
  if (missing.length) {
    const some = missing.length > 3 ? `${missing.slice(0, 3).join(', ')} and ${missing.length - 3} more` : missing.join(', ');
    return { docker: 'testbed', why: `engine ${version} answers but lacks the library's official images (${some}); DWS_DEMO_DOCKER=own would have Docker pull them` };
  }
  return { docker: 'own', why: `engine ${version} answers and has the official images` };
}

/** Runs the testbed's setup.sh (idempotent; it takes a lock, so a concurrent run just waits). */
function testbedSetup(): void {
  if (process.getuid?.() !== 0) {
    throw new DemoError(`the testbed (${relative(REPO, SETUP)}) installs and starts a Docker engine and needs root: run as root, or start your own Docker engine with the official images and set DWS_DEMO_DOCKER=own`);
  }
  say(`Preparing the testbed: bash ${relative(REPO, SETUP)} (about 10 min the first time, 10 s after)`);
  const started = Date.now();
  const r = spawnSync('bash', [SETUP], { stdio: ['ignore', 'inherit', 'inherit'], timeout: SETUP_TIMEOUT_S * 1000 });
  if (r.error && (r.error as NodeJS.ErrnoException).code === 'ETIMEDOUT') throw new DemoError(`gave up after ${SETUP_TIMEOUT_S / 60} min waiting for ${relative(REPO, SETUP)} to finish (logs: ${TESTBED_CACHE}/logs)`);
  if (r.error) throw r.error;
  if (r.status !== 0) throw new DemoError(`${relative(REPO, SETUP)} failed (exit ${r.status ?? r.signal}); see its output above and ${TESTBED_CACHE}/logs`);
  say(`Testbed ready in ${seconds(Date.now() - started)}.`);
}

function deployment(s: Settings): Deployment {
  return new Deployment(
    'demo',
    {
      DWS_NAME_PREFIX: PREFIX,
      DWS_DB_ENGINE: s.engine,
      DWS_HTTP_PORT: String(s.httpPort),
      DWS_HTTPS_PORT: String(s.httpsPort),
      DWS_CODEBASE_DIR: join(REPO, 'examples', 'app'),
      // examples/basic's other knobs at their defaults, whatever the caller's shell has set
      DWS_LB_PAIR_SUBNET: '',
      DWS_DB_TLS: '',
      DWS_DB_WRITER: '',
      DWS_ALERT_WEBHOOK_URL: '',
      // own Docker: the library's default images (the testbed's env.sh names its local ones)
      ...(s.docker === 'own' ? { DWS_IMAGES_JSON: '' } : {}),
    },
    { dir: WORK, testbed: s.docker === 'testbed' },
  );
}

/** Runs a cdktf command, saying every 30 s that it still runs and how many of the demo's containers exist. */
async function withProgress(what: 'deploy' | 'destroy', logFile: string, run: () => Promise<{ out: string; seconds: number }>): Promise<number> {
  const started = Date.now();
  const timer = setInterval(() => {
    const n = leftovers(PREFIX).containers.length;
    say(`  ... cdktf ${what}: ${seconds(Date.now() - started)}, ${n} ${PREFIX}-* container${n === 1 ? '' : 's'} ${what === 'deploy' ? 'so far' : 'left'}`);
  }, 30_000);
  try {
    const r = await run();
    writeFileSync(logFile, r.out);
    return r.seconds;
  } catch (e) {
    // The harness's message: "cdktf <args> failed (<code>):" and the end of the output.
    const [first, ...rest] = (e as Error).message.split('\n');
    writeFileSync(logFile, rest.join('\n'));
    const tail = rest.filter((l) => l.trim()).slice(-40);
    throw new DemoError(`${first} its output ends:\n${tail.map((l) => `  | ${l}`).join('\n')}\n(all of it: ${relative(REPO, logFile)})`);
  } finally {
    clearInterval(timer);
  }
}

/** Whether a TCP port on 127.0.0.1 can be bound (nothing is sent anywhere). */
const portFree = (port: number) =>
  new Promise<boolean>((resolve) => {
    const server = createServer();
    server.once('error', () => resolve(false));
    server.listen(port, '127.0.0.1', () => server.close(() => resolve(true)));
  });

// ------------------------------------------------------------------ deploy

async function deploy(): Promise<void> {
  const t0 = Date.now();
  const fromEnv = settingsFromEnv();
  const recorded = recordedSettings();
  const again = recorded && existsSync(join(WORK, 'terraform.basic.tfstate'));
  let s: Settings;
  if (again) {
    s = recorded;
    say(`A demo is already deployed (${s.docker === 'testbed' ? 'testbed' : 'own Docker'}, ${s.engine}, ports ${s.httpPort}/${s.httpsPort}): deploying it again with those settings (\`npm run demo -- destroy\` first to change them).`);
  } else {
    const { docker: choice, why } = chooseDocker(fromEnv.docker, fromEnv.engine);
    s = { ...fromEnv, docker: choice };
    say(`Docker: ${choice === 'testbed' ? "the project's testbed" : 'your own engine'} (${why}).`);
    for (const [name, port] of [['DWS_DEMO_HTTP_PORT', s.httpPort], ['DWS_DEMO_HTTPS_PORT', s.httpsPort]] as const) {
      if (!(await portFree(port))) throw new DemoError(`port ${port} on 127.0.0.1 is in use: set ${name} to a free port`);
    }
  }
  if (s.docker === 'testbed') {
    testbedSetup();
    testbedEnv(); // throws with what to do when env.sh is missing
  }

  const d = deployment(s);
  writeFileSync(SETTINGS_FILE, JSON.stringify(s, null, 2) + '\n');
  const engineName = s.engine === 'mysql' ? 'MySQL' : 'MariaDB';
  say(`Deploying examples/basic as ${PREFIX}-* (${engineName} primary + replica) with cdktf deploy in ${relative(REPO, WORK)}/ (a few minutes; it waits for every healthcheck) ...`);
  const deploySeconds = await withProgress('deploy', join(WORK, 'deploy.log'), () => d.deployAsync());

  const outputs = d.outputs().web;
  const url = outputs.url;
  const ca = outputs.certificate;
  if (!url || !ca) throw new DemoError(`the stack's outputs lack url or certificate (${relative(REPO, join(WORK, 'outputs.json'))}: ${Object.keys(outputs).join(', ')})`);
  writeFileSync(CERT_FILE, ca.endsWith('\n') ? ca : `${ca}\n`);

  say(`Waiting (at most ${HEALTHY_TIMEOUT_S} s) for every ${PREFIX}-* container to run and be healthy ...`);
  const containers = await allHealthy();
  say(`Waiting (at most ${SERVING_TIMEOUT_S} s) for both app servers to answer through the load balancer ...`);
  await bothServing(url, ca);
  const upSeconds = (Date.now() - t0) / 1000;

  const cert = new X509Certificate(ca);
  const redirect = await request(`http://127.0.0.1:${s.httpPort}/`).catch((e: Error) => ({ status: 0, headers: {} as Record<string, string>, body: e.message }));
  const curl = `curl --cacert ${CERT_FILE} ${url}`;
  say();
  say(`The stack is up: cdktf deploy ${deploySeconds.toFixed(0)} s, ${containers} containers running and healthy, ${upSeconds.toFixed(0)} s in all.`);
  say();
  say(`  URL          ${url}`);
  say(`  HTTP         http://127.0.0.1:${s.httpPort}/ -> ${redirect.status} ${redirect.headers.location ?? redirect.body}`);
  say(`  Certificate  ${CERT_FILE}`);
  say(`               self-signed by the stack (${cert.subject.replace(/\n/g, ', ')}; ${cert.subjectAltName}; valid until ${cert.validTo})`);
  say(`  Try it       ${curl}`);
  say();
  say(`Which app server answered (${GETS} GETs of / through the load balancer, 5 s timeout each):`);
  const names = containerNamesById();
  for (let i = 1; i <= GETS; i++) {
    const started = Date.now();
    try {
      const r = await request(url, { ca });
      const body = JSON.parse(r.body) as { server?: string; hostname?: string };
      say(`  ${i}  ${r.status}  ${body.server ?? '?'}  ${names.get(body.hostname ?? '') ?? body.hostname ?? ''}  ${Date.now() - started} ms`);
    } catch (e) {
      say(`  ${i}  failed: ${(e as Error).message}`);
    }
  }
  say();
  showReplication(s.engine);
  say();
  say(`Engine: ${s.docker === 'testbed' ? `the testbed's (${TESTBED_CACHE}/env.sh, local images)` : 'your own (official images)'}. State, outputs and logs: ${relative(REPO, WORK)}/`);
  say('Remove it all: npm run demo -- destroy');
}

/** Waits until every container of the demo runs and none has a healthcheck still starting or failing. */
async function allHealthy(): Promise<number> {
  let last: string[] = [];
  const ok = await until(
    () => {
      const rows = docker('ps', '-a', '--filter', `name=^${PREFIX}-`, '--format', '{{.Names}}\t{{.State}}\t{{.Status}}').split('\n').filter(Boolean);
      last = rows.map((r) => r.split('\t')).filter(([, state, status]) => state !== 'running' || /health: starting|unhealthy/.test(status)).map(([name, state, status]) => `${name} (${state === 'running' ? status : state})`);
      return rows.length > 0 && last.length === 0 ? rows.length : undefined;
    },
    HEALTHY_TIMEOUT_S * 1000,
    2000,
  );
  if (ok === undefined) throw new DemoError(`gave up after ${HEALTHY_TIMEOUT_S} s waiting for every ${PREFIX}-* container to be running and healthy; not yet: ${last.join(', ') || 'no container found'}`);
  return ok;
}

/** Waits until GETs through the load balancer have been answered by both app servers. */
async function bothServing(url: string, ca: string): Promise<void> {
  const seen = new Set<string>();
  let lastError = '';
  const ok = await until(
    async () => {
      try {
        const r = await request(url, { ca });
        if (r.status === 200) seen.add((JSON.parse(r.body) as { server: string }).server);
        else lastError = `HTTP ${r.status}`;
      } catch (e) {
        lastError = (e as Error).message;
      }
      return seen.size >= 2 ? true : undefined;
    },
    SERVING_TIMEOUT_S * 1000,
    500,
  );
  if (!ok) throw new DemoError(`gave up after ${SERVING_TIMEOUT_S} s waiting for both app servers to answer GET ${url}: answered by ${[...seen].join(', ') || 'none'}${lastError ? ` (last error: ${lastError})` : ''}`);
}

/** Container id (as the app reports its hostname) -> name, for the demo's containers. */
function containerNamesById(): Map<string, string> {
  const rows = docker('ps', '--filter', `name=^${PREFIX}-`, '--format', '{{.ID}} {{.Names}}').split('\n').filter(Boolean);
  return new Map(rows.map((r) => r.split(' ') as [string, string]));
}

/** The replica's own view (SHOW REPLICA STATUS), its GTID position against the primary's, and the router's routes. */
function showReplication(engine: Engine): void {
  const replica = `${PREFIX}-db-replica`;
  const primary = `${PREFIX}-db-primary`;
  const f = replicaFields(replica, engine);
  const pick = (...names: string[]) => names.map((n) => f[n]).find((v) => v !== undefined) ?? '?';
  say(`Replication (SHOW REPLICA STATUS in ${replica}, via docker exec):`);
  if (Object.keys(f).length === 0) {
    say(`  ${replica} is not replicating (no replica status): the failover agent may have made it the writer (docker logs ${PREFIX}-db-failover)`);
  } else {
    const query = (container: string, q: string) => dbRoot(container, engine, q).out.trim().replace(/\\n/g, '');
    // The primary keeps writing (its heartbeat), so compare by waiting (5 s at most) on the
    // replica for what the primary had: MySQL's executed GTID set, MariaDB's last GTID per domain.
    const primaryGtid = query(primary, engine === 'mysql' ? 'SELECT @@global.gtid_executed' : 'SELECT @@global.gtid_binlog_pos');
    const caughtUp = query(replica, engine === 'mysql' ? `SELECT WAIT_FOR_EXECUTED_GTID_SET('${primaryGtid}', 5)` : `SELECT MASTER_GTID_WAIT('${primaryGtid}', 5)`) === '0';
    const replicaGtid = query(replica, engine === 'mysql' ? 'SELECT @@global.gtid_executed' : 'SELECT @@global.gtid_slave_pos');
    const waitFn = engine === 'mysql' ? 'WAIT_FOR_EXECUTED_GTID_SET' : 'MASTER_GTID_WAIT';
    const errors = [pick('Last_IO_Error'), pick('Last_SQL_Error')].filter((e) => e && e !== '?');
    say(`  source           ${pick('Source_Host', 'Master_Host')}:${pick('Source_Port', 'Master_Port')}`);
    say(`  IO thread        ${pick('Replica_IO_Running', 'Slave_IO_Running')}`);
    say(`  SQL thread       ${pick('Replica_SQL_Running', 'Slave_SQL_Running')}`);
    say(`  lag              ${pick('Seconds_Behind_Source', 'Seconds_Behind_Master')} s behind the source`);
    say(`  GTID mode        ${engine === 'mysql' ? `Auto_Position ${pick('Auto_Position')}` : `Using_Gtid ${pick('Using_Gtid')}`}`);
    say(`  primary at       ${primaryGtid || '(empty)'}`);
    say(`  replica at       ${replicaGtid || '(empty)'}   (${caughtUp ? "has all of the primary's transactions above" : 'still lacks some of them after 5 s'}: ${waitFn})`);
    say(`  errors           ${errors.length ? errors.join('; ') : 'none'}`);
  }
  const route = (endpoint: string) => sh('docker', ['exec', `${PREFIX}-db-router`, 'cat', `/run/dws-route/${endpoint}`], { allowFail: true, timeoutMs: 30_000 }).out.trim() || '?';
  say(`  router           writes -> ${route('writer')}, reads -> ${route('reader')}`);
}

// ------------------------------------------------------------------ destroy

async function destroy(): Promise<void> {
  const recorded = recordedSettings();
  const hasState = existsSync(join(WORK, 'terraform.basic.tfstate'));
  if (recorded?.docker === 'testbed' && hasState && (!engineVersion() || !existsSync(join(TESTBED_CACHE, 'env.sh')))) testbedSetup(); // starts the engine again
  if (!engineVersion()) {
    if (hasState) throw new DemoError('no Docker engine answers (`docker version` shows no server), so the demo cannot be destroyed: start the engine the demo ran on and try again');
    say('Nothing to destroy: no demo state and no Docker engine answers.');
    rmSync(WORK, { recursive: true, force: true });
    return;
  }
  let destroySeconds: number | undefined;
  if (hasState && recorded) {
    say(`Destroying the demo (${recorded.docker === 'testbed' ? 'testbed' : 'own Docker'}): cdktf destroy in ${relative(REPO, WORK)}/ ...`);
    destroySeconds = await withProgress('destroy', join(WORK, 'destroy.log'), () => deployment(recorded).destroyAsync());
  }
  // Whatever a failed deploy or a lost state left behind: only objects named dws-demo-*.
  const left = leftovers(PREFIX);
  const names = [...left.containers, ...left.networks, ...left.volumes];
  if (names.length) {
    say(`Removing what cdktf did not (named ${PREFIX}-*): ${names.join(', ')}`);
    removeLeftovers(PREFIX);
  }
  const still = leftovers(PREFIX);
  const stillNames = [...still.containers, ...still.networks, ...still.volumes];
  if (stillNames.length) throw new DemoError(`still there after destroy: ${stillNames.join(', ')}`);
  rmSync(WORK, { recursive: true, force: true });
  if (destroySeconds === undefined && !names.length) say('Nothing to destroy: no demo was deployed.');
  else say(`Destroyed${destroySeconds !== undefined ? ` (cdktf destroy ${destroySeconds.toFixed(0)} s)` : ''}: no ${PREFIX}-* container, network or volume is left, and ${relative(REPO, WORK)}/ is gone.`);
}

// ------------------------------------------------------------------ main

async function main(): Promise<void> {
  const cmd = command(process.argv.slice(2));
  if (cmd === 'help') return say(USAGE);
  if (cmd === 'deploy') return deploy();
  return destroy();
}

main().then(
  () => process.exit(0),
  (e: unknown) => {
    if (e instanceof DemoError) console.error(`demo: ${e.message}`);
    else console.error(e);
    if (process.argv[2] !== 'destroy' && existsSync(SETTINGS_FILE)) console.error('(to remove whatever was created: npm run demo -- destroy)');
    process.exit(1);
  },
);
