// The real programs the unit tests run (to check rendered configs, or to run them), and the
// Debian package each comes from. The one table that the vitest config (which tests to skip when a
// program is missing), the notice printed after a run, scripts/real-programs.ts (the install
// command), .ci/run and the README's install command all come from.
import { spawnSync } from 'node:child_process';
import { accessSync, constants } from 'node:fs';
import { delimiter, join } from 'node:path';

export interface RealProgram {
  /** Commands that must all be on PATH. */
  readonly commands: readonly string[];
  /** Debian packages that provide them. */
  readonly packages: readonly string[];
  /** Why it is missing although its commands are there, or undefined when it is usable. */
  readonly extraCheck?: () => string | undefined;
}

/** Debian puts most daemons in sbin, which a non-root user's PATH may lack. */
export const TEST_PATH = [process.env.PATH ?? '', '/usr/local/sbin', '/usr/sbin', '/sbin'].filter(Boolean).join(delimiter);

/** The interpreters tried for PyYAML: the one on PATH first, then Debian's (python3-yaml). */
const PYTHONS = ['python3', '/usr/bin/python3'];

/** The first python that imports yaml, or undefined. */
export function pythonWithYaml(): string | undefined {
  return PYTHONS.find((py) => spawnSync(py, ['-c', 'import yaml'], { stdio: 'ignore', timeout: 10_000 }).status === 0);
}

export const REAL_PROGRAMS = {
  haproxy: { commands: ['haproxy'], packages: ['haproxy'] },
  nginx: { commands: ['nginx'], packages: ['nginx-light'] },
  mariadb: { commands: ['mariadbd', 'mariadb', 'mariadb-install-db', 'mariadb-admin'], packages: ['mariadb-server'] },
  iptables: {
    commands: ['iptables', 'unshare'],
    packages: ['iptables'],
    // The rules are applied in a network namespace of their own: that takes root.
    extraCheck: () =>
      spawnSync('unshare', ['--net', 'true'], { stdio: 'ignore', timeout: 10_000 }).status === 0 ? undefined : 'needs root (unshare --net failed)',
  },
  keepalived: { commands: ['keepalived', 'ip'], packages: ['keepalived'] },
  // The load balancer node's supervisor finds its interface with ip.
  iproute2: { commands: ['ip'], packages: ['iproute2'] },
  promtool: { commands: ['promtool'], packages: ['prometheus'] },
  alertmanager: { commands: ['amtool', 'prometheus-alertmanager'], packages: ['prometheus-alertmanager'] },
  blackbox_exporter: { commands: ['prometheus-blackbox-exporter'], packages: ['prometheus-blackbox-exporter'] },
  openssl: { commands: ['openssl'], packages: ['openssl'] },
  pyyaml: { commands: [], packages: ['python3-yaml'], extraCheck: () => (pythonWithYaml() ? undefined : 'no python3 imports yaml') },
} satisfies Record<string, RealProgram>;

export type RealProgramName = keyof typeof REAL_PROGRAMS;
export const REAL_PROGRAM_NAMES = Object.keys(REAL_PROGRAMS) as RealProgramName[];

/** Every package of the table, once, in table order. */
export const ALL_PACKAGES = [...new Set(REAL_PROGRAM_NAMES.flatMap((n) => REAL_PROGRAMS[n].packages))];

/** The one command that installs them all (as root). */
export const INSTALL_COMMAND = `apt-get install -y --no-install-recommends ${ALL_PACKAGES.join(' ')}`;

function onPath(command: string): boolean {
  return TEST_PATH.split(delimiter).some((dir) => {
    try {
      accessSync(join(dir, command), constants.X_OK);
      return true;
    } catch {
      return false;
    }
  });
}

/** Why the program cannot be used here, or undefined when it can. */
export function missingReason(name: RealProgramName): string | undefined {
  const p: RealProgram = REAL_PROGRAMS[name];
  const absent = p.commands.filter((c) => !onPath(c));
  if (absent.length > 0) return `${absent.join(', ')} not found`;
  return p.extraCheck?.();
}

/** Programs that cannot be used on this machine, with why. */
export function missingPrograms(): Partial<Record<RealProgramName, string>> {
  const out: Partial<Record<RealProgramName, string>> = {};
  for (const name of REAL_PROGRAM_NAMES) {
    const why = missingReason(name);
    if (why) out[name] = why;
  }
  return out;
}

/** DWS_REAL_PROGRAMS=require (what .ci/run sets): a missing program fails its tests, never skips them. */
export const realProgramsRequired = () => process.env.DWS_REAL_PROGRAMS === 'require';
