// Shared pieces of the benchmarks: the bench's own deployment of examples/basic, timed commands.
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { REPO, docker, images, removeLeftovers, sh, testbedEnv } from '../test/e2e/harness';

export { REPO, docker, images, sh };
export const WORK = join(REPO, 'bench', '.work');
export const RESULTS = join(WORK, 'results');
export const PREFIX = 'dwsbench';
export const HTTP_PORT = 28080;
export const HTTPS_PORT = 28443;
export const COMPOSE = process.env.DWS_BENCH_COMPOSE ?? '/var/cache/dws-bench/bin/docker-compose';
export const COMPOSE_VERSION = 'v2.27.0'; // what bench/run.sh builds

/**
 * The code under test: the work tree (default), or with DWS_BENCH_REF=<commit> that commit's
 * src/, examples/, assets/ and tsconfig files exported (git archive) to bench/.work/tree.
 */
export const REF = process.env.DWS_BENCH_REF;
export const SRC = REF ? exportTree(REF) : REPO;

function exportTree(ref: string): string {
  const dir = join(WORK, 'tree');
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  const tar = join(WORK, 'tree.tar');
  sh('git', ['-C', REPO, 'archive', '-o', tar, ref, 'src', 'examples', 'assets', 'tsconfig.json', 'tsconfig.build.json']);
  sh('tar', ['-xf', tar, '-C', dir]);
  rmSync(tar);
  return dir;
}

/** Which code was measured, for the report. */
export function sourceDescription(): string {
  const head = sh('git', ['-C', REPO, 'rev-parse', '--short', REF ?? 'HEAD']).out.trim();
  if (REF) return `commit ${head} (DWS_BENCH_REF=${REF})`;
  const dirty = sh('git', ['-C', REPO, 'status', '--porcelain', '--', 'src', 'examples', 'assets']).out.trim() !== '';
  return `work tree at ${head}${dirty ? ' with uncommitted changes in src/examples/assets' : ''}`;
}

export const log = (msg: string) => console.log(`[bench ${new Date().toISOString().slice(11, 19)}] ${msg}`);

export function saveResult(part: string, data: unknown): void {
  mkdirSync(RESULTS, { recursive: true });
  writeFileSync(join(RESULTS, `${part}.json`), JSON.stringify(data, null, 2));
}

export function loadResult<T>(part: string): T | undefined {
  const f = join(RESULTS, `${part}.json`);
  return existsSync(f) ? (JSON.parse(readFileSync(f, 'utf8')) as T) : undefined;
}

/** One output line and the seconds since the command started. */
export interface TimedLine {
  t: number;
  line: string;
}

/** Runs a command, timestamping each output line as it arrives (bounded by timeoutMs). */
export function timed(cmd: string, args: string[], opts: { cwd?: string; env?: NodeJS.ProcessEnv; timeoutMs?: number } = {}): Promise<{ seconds: number; lines: TimedLine[]; status: number }> {
  return new Promise((resolve, reject) => {
    const started = performance.now();
    const lines: TimedLine[] = [];
    const child = spawn(cmd, args, { cwd: opts.cwd, env: opts.env ?? process.env, stdio: ['ignore', 'pipe', 'pipe'] });
    const timer = setTimeout(() => child.kill('SIGTERM'), opts.timeoutMs ?? 15 * 60_000);
    const partial = { out: '', err: '' };
    const feed = (which: 'out' | 'err') => (chunk: Buffer) => {
      const t = (performance.now() - started) / 1000;
      const text = partial[which] + chunk.toString('utf8');
      const parts = text.split('\n');
      partial[which] = parts.pop() ?? '';
      for (const line of parts) lines.push({ t, line });
    };
    child.stdout.on('data', feed('out'));
    child.stderr.on('data', feed('err'));
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      const t = (performance.now() - started) / 1000;
      for (const rest of [partial.out, partial.err]) if (rest) lines.push({ t, line: rest });
      resolve({ seconds: t, lines, status: code ?? -1 });
    });
  });
}

/** The bench's own cdktf project dir (state, cdktf.out), like the e2e harness's Deployment. */
export class BenchDeployment {
  readonly dir = join(WORK, 'deploy');
  readonly env: Record<string, string> = {
    DWS_DB_ENGINE: 'mysql',
    DWS_NAME_PREFIX: PREFIX,
    DWS_HTTP_PORT: String(HTTP_PORT),
    DWS_HTTPS_PORT: String(HTTPS_PORT),
  };
  constructor() {
    mkdirSync(this.dir, { recursive: true });
    writeFileSync(
      join(this.dir, 'cdktf.json'),
      JSON.stringify({ language: 'typescript', app: `npx tsx ${join(SRC, 'examples', 'basic', 'main.ts')}`, output: 'cdktf.out', sendCrashReports: 'false', terraformProviders: [], terraformModules: [] }),
    );
  }

  hasState(): boolean {
    return existsSync(this.stateFile);
  }

  get stateFile(): string {
    return join(this.dir, 'terraform.basic.tfstate');
  }

  async cdktf(...args: string[]): Promise<{ seconds: number; lines: TimedLine[] }> {
    rmSync(join(this.dir, 'cdktf.out', 'stacks', 'basic', '.terraform.lock.hcl'), { force: true });
    const r = await timed(join(REPO, 'node_modules', '.bin', 'cdktf'), args, {
      cwd: this.dir,
      env: { ...process.env, ...testbedEnv(), ...this.env, CI: '1', CHECKPOINT_DISABLE: '1', FORCE_COLOR: '0', NO_COLOR: '1' },
      timeoutMs: 15 * 60_000,
    });
    if (r.status !== 0) throw new Error(`cdktf ${args.join(' ')} failed (${r.status}):\n${r.lines.map((l) => l.line).join('\n').slice(-6000)}`);
    return r;
  }

  deploy() {
    return this.cdktf('deploy', '--auto-approve', '--skip-provider-lock', '--outputs-file', join(this.dir, 'outputs.json'));
  }

  outputs(): Record<string, Record<string, string>> {
    return JSON.parse(readFileSync(join(this.dir, 'outputs.json'), 'utf8')).basic;
  }

  /** The stack's resources as Terraform recorded them after a deploy. */
  state(): { resources: { type: string; name: string; instances: { attributes: Record<string, any>; dependencies?: string[] }[] }[] } {
    return JSON.parse(readFileSync(this.stateFile, 'utf8'));
  }

  /**
   * Removes the deployment without `cdktf destroy` (which is not measured and takes ~50 s):
   * our prefix's containers, networks and volumes, and the state. Built images stay.
   */
  wipe(): void {
    removeLeftovers(PREFIX);
    rmSync(this.stateFile, { force: true });
    rmSync(`${this.stateFile}.backup`, { force: true });
  }
}

/** Every container of the stack healthy (or running, without a healthcheck)? */
/** examples/basic: 7 containers for the web stack, 8 for monitoring. */
const STACK_CONTAINERS = 15;

export function allHealthy(): boolean {
  const out = docker('ps', '-a', '--filter', `name=^${PREFIX}-`, '--format', '{{.Names}}');
  const names = out ? out.split('\n') : [];
  if (names.length !== STACK_CONTAINERS) return false;
  return names.every((n) => {
    const s = docker('inspect', '--format', '{{.State.Status}} {{if .State.Health}}{{.State.Health.Status}}{{else}}none{{end}}', n);
    return s === 'running healthy' || s === 'running none';
  });
}

/** A client container on one of the stack's networks. */
export function clientRun(network: string, image: string, args: string[], opts: { mounts?: string[]; env?: Record<string, string>; timeoutMs?: number } = {}) {
  const flags = ['run', '--rm', '--network', `${PREFIX}-${network}`, '--label', 'dws.bench=1'];
  for (const m of opts.mounts ?? []) flags.push('-v', m);
  for (const [k, v] of Object.entries(opts.env ?? {})) flags.push('-e', `${k}=${v}`);
  return sh('docker', [...flags, image, ...args], { timeoutMs: opts.timeoutMs ?? 120_000 });
}
