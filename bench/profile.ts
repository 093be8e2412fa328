// Summarizes a V8 .cpuprofile (node --cpu-prof): time by package (node's module loading charged
// to the package that required) and self time by function.
import { readFileSync } from 'node:fs';

interface ProfileNode {
  id: number;
  parent?: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  children?: number[];
}
interface CpuProfile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
}

/** "node_modules/@cdktf/provider-docker/..." -> "@cdktf/provider-docker"; our files by folder. */
export function packageOf(url: string): string {
  if (!url) return '(native/gc/idle)';
  const m = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url);
  if (m) return m[1];
  if (url.startsWith('node:')) return 'node (core)';
  if (/\/bench\/\.work\/dist\/lib\//.test(url)) return 'this library';
  return url.replace(/^file:\/\//, '').replace(/^.*\/work\/main\//, '');
}

export function summarizeProfile(file: string, top = 8): { totalMs: number; byPackage: [string, number][]; byFunction: [string, number][] } {
  const p = JSON.parse(readFileSync(file, 'utf8')) as CpuProfile;
  const byId = new Map(p.nodes.map((n) => [n.id, n]));
  for (const n of p.nodes) for (const c of n.children ?? []) byId.get(c)!.parent = n.id;
  // Node's own work (compiling a module, reading its file) is charged to the nearest caller
  // outside node's core: the package whose code asked for it.
  const owner = (n: ProfileNode): string => {
    for (let m: ProfileNode | undefined = n; m; m = m.parent === undefined ? undefined : byId.get(m.parent)) {
      if (m.callFrame.url && !m.callFrame.url.startsWith('node:')) return packageOf(m.callFrame.url);
    }
    return packageOf(n.callFrame.url);
  };
  const self = new Map<number, number>();
  p.samples.forEach((id, i) => self.set(id, (self.get(id) ?? 0) + (p.timeDeltas[i] ?? 0)));
  const pkg = new Map<string, number>();
  const fn = new Map<string, number>();
  let total = 0;
  for (const [id, us] of self) {
    const n = byId.get(id)!;
    total += us;
    const name = n.callFrame.functionName || '(anonymous)';
    if (name === '(idle)' || name === '(program)' || name === '(garbage collector)') {
      fn.set(name, (fn.get(name) ?? 0) + us);
      pkg.set(name, (pkg.get(name) ?? 0) + us);
      continue;
    }
    const where = packageOf(n.callFrame.url);
    const charged = owner(n);
    pkg.set(charged, (pkg.get(charged) ?? 0) + us);
    const key = `${name} (${where}${n.callFrame.url ? `:${n.callFrame.lineNumber + 1}` : ''})`;
    fn.set(key, (fn.get(key) ?? 0) + us);
  }
  const sorted = (m: Map<string, number>) => [...m].sort((a, b) => b[1] - a[1]).slice(0, top).map(([k, v]) => [k, v / 1000] as [string, number]);
  return { totalMs: total / 1000, byPackage: sorted(pkg), byFunction: sorted(fn) };
}
