// Part 1: synth time of the full DistributedWebStack against a bare one-container stack and the
// floor (loading cdktf and the provider bindings), each in a fresh plain `node` process.
import { mkdirSync, readdirSync, rmSync, symlinkSync } from 'node:fs';
import { join } from 'node:path';
import { REPO, SRC, WORK, log, saveResult, sh, timed } from './common';
import { summarizeProfile } from './profile';
import { differences, median, ratios } from './stats';

const DIST = join(WORK, 'dist');
const KINDS = ['floor', 'bare', 'full'] as const;
type Kind = (typeof KINDS)[number];

export interface SynthRun {
  wallMs: number;
  loadMs: number;
  constructMs: number;
  synthMs: number;
}

/** Compiles the library (src/) to JavaScript, so the synth runs in plain node with no TS loader. */
function compileLibrary(): string {
  rmSync(DIST, { recursive: true, force: true });
  sh(join(REPO, 'node_modules', '.bin', 'tsc'), ['-p', join(SRC, 'tsconfig.build.json'), '--outDir', join(DIST, 'lib'), '--declaration', 'false', '--sourceMap', 'false'], { timeoutMs: 300_000 });
  symlinkSync(join(SRC, 'assets'), join(DIST, 'assets')); // the library finds assets/ beside lib/
  return join(DIST, 'lib');
}

function args(kind: Kind, lib: string, out: string): string[] {
  const script = join(REPO, 'bench', 'synth', `${kind}.js`);
  return kind === 'full' ? [script, out, lib, join(SRC, 'examples', 'app')] : [script, out];
}

async function once(kind: Kind, lib: string, extra: string[] = []): Promise<SynthRun> {
  const out = join(WORK, 'synth-out', kind);
  rmSync(out, { recursive: true, force: true });
  mkdirSync(join(WORK, 'synth-out'), { recursive: true });
  const r = await timed('node', [...extra, ...args(kind, lib, out)], { cwd: REPO, timeoutMs: 120_000 });
  if (r.status !== 0) throw new Error(`synth ${kind} failed:\n${r.lines.map((l) => l.line).join('\n')}`);
  const inner = JSON.parse(r.lines.find((l) => l.line.startsWith('{'))!.line);
  return { wallMs: r.seconds * 1000, ...inner };
}

export async function benchSynth(runs: number) {
  const lib = compileLibrary();
  const cmd = (k: Kind) => `node ${args(k, 'bench/.work/dist/lib', 'bench/.work/synth-out/' + k).map((a) => a.replace(REPO + '/', '')).join(' ')}`;
  for (const k of KINDS) await once(k, lib); // warm the file cache once, not counted
  const res: Record<Kind, SynthRun[]> = { floor: [], bare: [], full: [] };
  for (let i = 0; i < runs; i++) {
    // Interleaved, so each run's comparison sees the same machine load.
    for (const k of KINDS) res[k].push(await once(k, lib));
    log(`synth run ${i + 1}/${runs}: floor ${res.floor[i].wallMs.toFixed(0)} ms, bare ${res.bare[i].wallMs.toFixed(0)} ms, full ${res.full[i].wallMs.toFixed(0)} ms`);
  }
  const wall = (k: Kind) => res[k].map((r) => r.wallMs);
  const fullOverBare = ratios(wall('full'), wall('bare'));
  const result: Record<string, unknown> = {
    runs,
    commands: KINDS.map(cmd),
    runsByKind: res,
    fullOverBare,
    fullOverFloor: ratios(wall('full'), wall('floor')),
    bareOverFloor: ratios(wall('bare'), wall('floor')),
    // Where the full stack's extra time goes, per run: phases measured inside the process.
    extraMs: {
      load: differences(res.full.map((r) => r.loadMs), res.bare.map((r) => r.loadMs)),
      construct: differences(res.full.map((r) => r.constructMs), res.bare.map((r) => r.constructMs)),
      synth: differences(res.full.map((r) => r.synthMs), res.bare.map((r) => r.synthMs)),
    },
  };
  if (median(fullOverBare) > 1.5) {
    // Profile the full and the bare synth once each (V8 sampling profiler) to name the cause.
    const dir = join(WORK, 'profiles');
    rmSync(dir, { recursive: true, force: true });
    mkdirSync(dir, { recursive: true });
    const profiles: Record<string, unknown> = {};
    for (const k of ['bare', 'full'] as const) {
      const kd = join(dir, k);
      await once(k, lib, ['--cpu-prof', '--cpu-prof-interval', '200', '--cpu-prof-dir', kd]);
      profiles[k] = summarizeProfile(join(kd, readdirSync(kd)[0]), 10);
    }
    result.profiles = profiles;
    result.profileCommand = `node --cpu-prof --cpu-prof-interval 200 --cpu-prof-dir bench/.work/profiles/full ${args('full', 'bench/.work/dist/lib', 'bench/.work/synth-out/full').map((a) => a.replace(REPO + '/', '')).join(' ')}`;
  }
  saveResult('synth', result);
  return result;
}
