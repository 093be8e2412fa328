import { execFile, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import * as http from 'node:http';
import * as https from 'node:https';
import { join, resolve } from 'node:path';
import * as tls from 'node:tls';

export const REPO = resolve(__dirname, '..', '..');
const CACHE = process.env.DWS_TESTBED_CACHE ?? '/var/cache/dws-testbed';

/** The testbed's environment (TF_CLI_CONFIG_FILE, DWS_IMAGES_JSON, ...), from setup.sh's env.sh. */
export function testbedEnv(): Record<string, string> {
  const file = join(CACHE, 'env.sh');
  if (!existsSync(file)) throw new Error(`${file} is missing: run test/e2e/testbed/setup.sh first (npm run test:e2e does)`);
  const env: Record<string, string> = {};
  for (const m of readFileSync(file, 'utf8').matchAll(/^export (\w+)=["']?([^"'\n]*)["']?$/gm)) env[m[1]] = m[2];
  return env;
}

export function images(): Record<string, string> {
  return JSON.parse(readFileSync(testbedEnv().DWS_IMAGES_JSON, 'utf8'));
}

export function sh(cmd: string, args: string[], opts: { input?: string; allowFail?: boolean; timeoutMs?: number } = {}): { status: number; out: string; err: string } {
  const r = spawnSync(cmd, args, { encoding: 'utf8', input: opts.input, timeout: opts.timeoutMs ?? 120_000 });
  if (r.error) throw r.error;
  if (r.status !== 0 && !opts.allowFail) throw new Error(`${cmd} ${args.join(' ')} failed (${r.status}):\n${r.stdout}\n${r.stderr}`);
  return { status: r.status ?? -1, out: r.stdout, err: r.stderr };
}

export const docker = (...args: string[]) => sh('docker', args).out.trim();

/**
 * A cdktf project dir of its own per deployment, so state and cdktf.out never mix.
 * `dir`: where (default test/e2e/.work/<name>). `testbed`: deploy with the testbed's env.sh
 * (offline provider mirror, local images) and `--skip-provider-lock` (default); `false` for a
 * user's own Docker, with providers from the registry as cdktf usually gets them.
 */
export class Deployment {
  readonly dir: string;
  readonly testbed: boolean;
  constructor(
    readonly name: string,
    readonly env: Record<string, string>,
    opts: { dir?: string; testbed?: boolean } = {},
  ) {
    this.dir = opts.dir ?? join(REPO, 'test', 'e2e', '.work', name);
    this.testbed = opts.testbed ?? true;
    mkdirSync(this.dir, { recursive: true });
    writeFileSync(
      join(this.dir, 'cdktf.json'),
      JSON.stringify({ language: 'typescript', app: `npx tsx ${join(REPO, 'examples', 'basic', 'main.ts')}`, output: 'cdktf.out', sendCrashReports: 'false', terraformProviders: [], terraformModules: [] }),
    );
  }

  /** Runs the cdktf CLI as a user would; returns its output and the seconds it took. */
  cdktf(...args: string[]): { out: string; seconds: number } {
    const started = Date.now();
    const r = spawnSync(join(REPO, 'node_modules', '.bin', 'cdktf'), args, { ...this.spawnOptions(), encoding: 'utf8' });
    const out = `${r.stdout}\n${r.stderr}`;
    if (r.status !== 0) throw new Error(`cdktf ${args.join(' ')} failed (${r.status}):\n${out.slice(-6000)}`);
    return { out, seconds: (Date.now() - started) / 1000 };
  }

  /** The same, without blocking: for a deploy while the test sends load. */
  cdktfAsync(...args: string[]): Promise<{ out: string; seconds: number }> {
    const started = Date.now();
    return new Promise((resolve, reject) => {
      execFile(join(REPO, 'node_modules', '.bin', 'cdktf'), args, { ...this.spawnOptions(), maxBuffer: 64 << 20 }, (error, stdout, stderr) => {
        const out = `${stdout}\n${stderr}`;
        if (error) reject(new Error(`cdktf ${args.join(' ')} failed (${error.code}):\n${out.slice(-6000)}`));
        else resolve({ out, seconds: (Date.now() - started) / 1000 });
      });
    });
  }

  private spawnOptions() {
    // The mirror's providers are built locally; a rebuilt binary has another checksum than a
    // lock file written earlier, so let `terraform init` write the lock file afresh each time.
    rmSync(join(this.dir, 'cdktf.out', 'stacks', 'basic', '.terraform.lock.hcl'), { force: true });
    return {
      cwd: this.dir,
      timeout: 20 * 60_000,
      env: { ...process.env, ...(this.testbed ? testbedEnv() : {}), ...this.env, CI: '1', CHECKPOINT_DISABLE: '1', FORCE_COLOR: '0', NO_COLOR: '1' },
    };
  }

  deploy() {
    return this.cdktf(...this.deployArgs());
  }

  deployAsync() {
    return this.cdktfAsync(...this.deployArgs());
  }

  private deployArgs() {
    return ['deploy', '--auto-approve', ...this.lockArgs(), '--outputs-file', join(this.dir, 'outputs.json')];
  }

  private lockArgs(): string[] {
    return this.testbed ? ['--skip-provider-lock'] : [];
  }

  /** The stack's outputs after a deploy, nested by construct as cdktf writes them: outputs().web.url. */
  outputs(): Record<string, Record<string, string>> {
    return JSON.parse(readFileSync(join(this.dir, 'outputs.json'), 'utf8')).basic;
  }

  destroy() {
    return this.cdktf('destroy', '--auto-approve', ...this.lockArgs());
  }

  destroyAsync() {
    return this.cdktfAsync('destroy', '--auto-approve', ...this.lockArgs());
  }

  hasState(): boolean {
    return existsSync(join(this.dir, 'terraform.basic.tfstate'));
  }
}

/**
 * The container with Docker DNS name `base`: AppServerPair names its containers
 * "<base>-<generation>" so a replacement can start before the old one stops.
 */
export function containerOf(base: string): string {
  const names = docker('ps', '-a', '--filter', `name=^${base}(-[0-9a-f]{12})?$`, '--format', '{{.Names}}').split('\n').filter(Boolean);
  if (names.length !== 1) throw new Error(`expected one container named ${base}[-<generation>], found ${JSON.stringify(names)}`);
  return names[0];
}

/** A container name without its generation suffix. */
export const withoutGeneration = (name: string) => name.replace(/-[0-9a-f]{12}$/, '');

/** Names of the Docker objects whose names start with a prefix. */
export function leftovers(prefix: string): { containers: string[]; networks: string[]; volumes: string[] } {
  const list = (...args: string[]) =>
    docker(...args)
      .split('\n')
      .filter((n) => n.startsWith(`${prefix}-`));
  return {
    containers: list('ps', '-a', '--format', '{{.Names}}'),
    networks: list('network', 'ls', '--format', '{{.Name}}'),
    volumes: list('volume', 'ls', '--format', '{{.Name}}'),
  };
}

/** After a failed run: destroys what is left of the deployment (our prefix only), if anything. */
export function cleanUpAfterFailure(deployment: Deployment, prefix: string): void {
  const left = leftovers(prefix);
  if (left.containers.length + left.networks.length + left.volumes.length === 0) return;
  if (deployment.hasState()) {
    try {
      deployment.destroy();
    } catch (e) {
      console.error(`[${deployment.name}] destroy after failure: ${(e as Error).message.slice(-500)}`);
    }
  }
  removeLeftovers(prefix);
}

/** Writes a run's figures to test/e2e/.work/<name>.json (read by bench/drills.sh) and the log. */
export function saveFigures(name: string, figures: Record<string, unknown>): void {
  mkdirSync(join(REPO, 'test', 'e2e', '.work'), { recursive: true });
  writeFileSync(join(REPO, 'test', 'e2e', '.work', `${name}.json`), JSON.stringify(figures, null, 2));
  console.log(`[${name}] figures: ${JSON.stringify(figures)}`);
}

/** A GET from a client container on a Docker network (bounded: 5 s). */
export const getFrom = (network: string, url: string) => sh('docker', ['run', '--rm', '--network', network, images().nginx, 'curl', '-sS', '--max-time', '5', url], { timeoutMs: 60_000 }).out;

/** Waits (bounded) until a container's healthcheck reports healthy. */
export const healthyWithin = (container: string, timeoutMs: number) =>
  until(() => (docker('inspect', '--format', '{{.State.Health.Status}}', container) === 'healthy' ? true : undefined), timeoutMs, 500);

export type Engine = 'mysql' | 'mariadb';

/** SQL as root inside a database container of a stack, over its socket, with the engine's own client (bounded: 60 s). */
export function dbRoot(container: string, engine: Engine, query: string, opts: { vertical?: boolean; allowFail?: boolean } = {}) {
  const client = engine === 'mysql' ? 'mysql' : 'mariadb';
  const format = opts.vertical ? '--vertical' : '-N -B';
  return sh('docker', ['exec', '-i', container, 'bash', '-c', `exec ${client} --socket=/var/run/mysqld/mysqld.sock -uroot -p"$(cat /etc/dws/secrets/root-password)" ${format}`], {
    input: query,
    allowFail: opts.allowFail,
    timeoutMs: 60_000,
  });
}

/**
 * SHOW REPLICA STATUS on a node as field -> value: MySQL's names (Replica_IO_Running,
 * Seconds_Behind_Source, ...) or MariaDB's (Slave_IO_Running, Seconds_Behind_Master, ...);
 * a value the client wraps over several lines (a GTID set) is joined. Empty when not a replica.
 */
export function replicaFields(container: string, engine: Engine): Record<string, string> {
  const fields: Record<string, string> = {};
  let last: string | undefined;
  for (const line of dbRoot(container, engine, 'SHOW REPLICA STATUS;', { vertical: true }).out.split('\n')) {
    const m = /^\s*(\w+): ?(.*)$/.exec(line);
    if (m) fields[(last = m[1])] = m[2].trim();
    else if (last && line.trim() && !line.startsWith('*')) fields[last] += line.trim();
  }
  return fields;
}

/** Removes what a crashed earlier run may have left (our prefix only). */
export function removeLeftovers(prefix: string): void {
  const l = leftovers(prefix);
  if (l.containers.length) sh('docker', ['rm', '-f', ...l.containers]);
  for (const net of l.networks) disconnectStaleEndpoints(net);
  if (l.networks.length) sh('docker', ['network', 'rm', ...l.networks]);
  if (l.volumes.length) sh('docker', ['volume', 'rm', ...l.volumes]);
}

/** The endpoints Docker holds on a network: the container names, and whether each still exists. */
export function networkEndpoints(net: string): { name: string; exists: boolean }[] {
  const r = sh('docker', ['network', 'inspect', '--format', '{{range .Containers}}{{println .Name}}{{end}}', net], { allowFail: true });
  if (r.status !== 0) return [];
  return r.out
    .split('\n')
    .filter(Boolean)
    .map((name) => ({ name, exists: sh('docker', ['container', 'inspect', name], { allowFail: true }).status === 0 }));
}

/**
 * Force-disconnects the endpoints of containers that no longer exist: Docker sometimes keeps one
 * after its container is gone and then refuses to remove the network ("has active endpoints",
 * moby/moby#17217, #42119). Returns what it disconnected.
 */
export function disconnectStaleEndpoints(net: string): string[] {
  const stale = networkEndpoints(net).filter((e) => !e.exists).map((e) => e.name);
  for (const name of stale) sh('docker', ['network', 'disconnect', '--force', net, name], { allowFail: true });
  return stale;
}

/**
 * `cdktf destroy`, as a user runs it. If it fails only because Docker kept an endpoint of a
 * container that no longer exists (the engine bug above), those endpoints are force-disconnected,
 * named in the result, and destroy runs once more. A live container on the stack's networks, or
 * any other failure, fails it.
 */
export function destroyPastStaleEndpoints(deployment: Deployment, prefix: string): { seconds: number; staleEndpoints: string[] } {
  try {
    return { seconds: deployment.destroy().seconds, staleEndpoints: [] };
  } catch (e) {
    const message = (e as Error).message;
    if (!message.includes('has active endpoints') && !message.includes("waiting for state to become 'removed'")) throw e;
    const networks = leftovers(prefix).networks;
    const live = networks.flatMap((net) => networkEndpoints(net).filter((x) => x.exists).map((x) => `${x.name} on ${net}`));
    if (live.length) throw new Error(`cdktf destroy left containers on the stack's networks: ${live.join(', ')}\n${message.slice(-2000)}`);
    const staleEndpoints = networks.flatMap((net) => disconnectStaleEndpoints(net).map((name) => `${name} on ${net}`));
    if (!staleEndpoints.length) throw e;
    console.warn(`[${deployment.name}] Docker kept endpoints of removed containers (${staleEndpoints.join(', ')}); force-disconnected them and ran destroy again`);
    return { seconds: deployment.destroy().seconds, staleEndpoints };
  }
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export interface Response {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: string;
}

/** One request through a published port, trusting `ca` for HTTPS; bounded by a 5 s timeout. */
export function request(url: string, opts: { method?: string; ca?: string; agent?: http.Agent; headers?: http.OutgoingHttpHeaders; body?: string | Buffer } = {}): Promise<Response> {
  const u = new URL(url);
  const mod = u.protocol === 'https:' ? https : http;
  return new Promise((resolve, reject) => {
    // A fresh connection per request (agent false): a reused keep-alive socket that the load
    // balancer closed while idle would fail the request for the client's reasons, not ours.
    const req = mod.request(u, { method: opts.method ?? 'GET', ca: opts.ca, agent: opts.agent ?? false, headers: opts.headers, timeout: 5000 }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d) => (body += d));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
    });
    req.on('timeout', () => req.destroy(new Error(`timeout: ${url}`)));
    req.on('error', reject);
    req.end(opts.body);
  });
}

/** A TLS handshake with chosen limits; resolves to what was negotiated or the error. */
export function handshake(port: number, opts: tls.ConnectionOptions): Promise<{ ok: boolean; protocol?: string | null; alpn?: string | false | null; cipher?: string; error?: string }> {
  return new Promise((resolve) => {
    const socket = tls.connect({ host: '127.0.0.1', port, timeout: 5000, ...opts }, () => {
      resolve({ ok: true, protocol: socket.getProtocol(), alpn: socket.alpnProtocol, cipher: socket.getCipher().name });
      socket.end();
    });
    socket.on('error', (e) => resolve({ ok: false, error: e.message }));
    socket.on('timeout', () => {
      socket.destroy();
      resolve({ ok: false, error: 'timeout' });
    });
  });
}

/** Polls until fn returns a value (bounded in count and time). */
export async function until<T>(fn: () => Promise<T | undefined> | T | undefined, timeoutMs: number, stepMs = 100): Promise<T | undefined> {
  const deadline = Date.now() + timeoutMs;
  for (let i = 0; i < 10_000 && Date.now() < deadline; i++) {
    const v = await fn();
    if (v !== undefined) return v;
    await sleep(stepMs);
  }
  return undefined;
}

