import { ChildProcess, spawn, spawnSync, SpawnSyncReturns } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { request } from 'node:http';
import { join } from 'node:path';
import { INSTALL_COMMAND } from '../real-program-table';

const notInstalled = (cmd: string) => new Error(`${cmd} is not installed: ${INSTALL_COMMAND} (or npm run test:real)`);

/** Runs a real program to its end (bounded); a missing program fails the test with how to install it. */
export function run(cmd: string, args: string[], opts: { input?: string; timeoutMs?: number; stdoutToNull?: boolean } = {}): SpawnSyncReturns<string> {
  const r = spawnSync(cmd, args, {
    encoding: 'utf8',
    input: opts.input,
    timeout: opts.timeoutMs ?? 30_000,
    killSignal: 'SIGKILL',
    // Node's pipes are sockets, which a program cannot open() as /dev/stdout; Docker's are not.
    stdio: ['pipe', opts.stdoutToNull ? 'ignore' : 'pipe', 'pipe'],
  });
  if (r.error && (r.error as NodeJS.ErrnoException).code === 'ENOENT') throw notInstalled(cmd);
  if (r.error) throw r.error;
  return r;
}

/** A real program started in the background, e.g. a server the test talks to. */
export interface Started {
  readonly proc: ChildProcess;
  /** What it wrote to stdout and stderr so far. */
  output(): string;
  /** True once it has exited or could not be started. */
  ended(): boolean;
  /** Polls ok() every intervalMs, at most tries times; throws with the output if it never holds or the program ends. */
  until(what: string, ok: () => boolean | Promise<boolean>, tries?: number, intervalMs?: number): Promise<void>;
  /** SIGTERM, then SIGKILL after graceMs; resolves once it has exited (bounded). */
  stop(graceMs?: number): Promise<void>;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** stdoutToNull: for a program that opens /dev/stdout itself, which it cannot when that is Node's pipe (a socket). */
export function start(cmd: string, args: string[], opts: { env?: NodeJS.ProcessEnv; stdoutToNull?: boolean } = {}): Started {
  const proc = spawn(cmd, args, { stdio: ['ignore', opts.stdoutToNull ? 'ignore' : 'pipe', 'pipe'], env: opts.env });
  let output = '';
  let startError: Error | undefined;
  let exited = false;
  proc.stdout?.on('data', (d) => (output += d));
  proc.stderr!.on('data', (d) => (output += d));
  const gone = new Promise<void>((done) => {
    proc.once('error', (e: NodeJS.ErrnoException) => {
      startError = e.code === 'ENOENT' ? notInstalled(cmd) : e;
      exited = true;
      done();
    });
    proc.once('exit', () => {
      exited = true;
      done();
    });
  });
  return {
    proc,
    output: () => output,
    ended: () => exited,
    async until(what, ok, tries = 50, intervalMs = 100) {
      for (let i = 0; i < tries; i++) {
        if (startError) throw startError;
        if (await ok()) return;
        if (exited) throw new Error(`${cmd} exited (${proc.exitCode ?? proc.signalCode}) before ${what}:\n${output}`);
        await sleep(intervalMs);
      }
      throw new Error(`${cmd}: ${what} did not happen within ${tries * intervalMs} ms:\n${output}`);
    },
    async stop(graceMs = 5000) {
      if (exited) return;
      proc.kill('SIGTERM');
      const timer = setTimeout(() => proc.kill('SIGKILL'), graceMs);
      // Bounded by the SIGKILL above; the extra second covers a process the kernel is still reaping.
      await Promise.race([gone, sleep(graceMs + 1000)]);
      clearTimeout(timer);
    },
  };
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
