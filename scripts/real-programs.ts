// The real programs the unit tests use (test/real-program-table.ts):
//   tsx scripts/real-programs.ts check     lists what is missing here (exit 1 if anything is)
//   tsx scripts/real-programs.ts command   prints the one command that installs them all
//   tsx scripts/real-programs.ts install   installs the missing ones with apt-get (root, Debian)
//   tsx scripts/real-programs.ts tags      the vitest tag of each program, as JSON (for vitest.config.mts)
import { spawnSync } from 'node:child_process';
import { ALL_PACKAGES, INSTALL_COMMAND, missingPrograms, REAL_PROGRAMS, RealProgramName, realProgramsRequired } from '../test/real-program-table';

const USAGE = 'usage: tsx scripts/real-programs.ts check|command|install|tags';

function apt(args: string[]): number {
  const r = spawnSync('apt-get', ['-o', 'DPkg::Lock::Timeout=600', '-o', 'Acquire::Retries=3', ...args], {
    stdio: 'inherit',
    env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' },
  });
  if (r.error) throw new Error(`apt-get could not be run (${r.error.message}): this needs Debian; install by hand: ${INSTALL_COMMAND}`);
  return r.status ?? 1;
}

function install(): number {
  const missing = Object.keys(missingPrograms()) as RealProgramName[];
  if (missing.length === 0) {
    console.log('real programs: all present');
    return 0;
  }
  if (process.getuid?.() !== 0) {
    console.error(`real programs missing: ${missing.join(', ')}. Installing them needs root: sudo ${INSTALL_COMMAND}`);
    return 1;
  }
  // The whole list: apt-get skips what is there, and a program can need more than one package.
  const install = ['install', '-y', '-q', '--no-install-recommends', ...ALL_PACKAGES];
  console.log(`real programs missing: ${missing.join(', ')}; apt-get ${install.join(' ')}`);
  if (apt(install) !== 0 && (apt(['update', '-q']) !== 0 || apt(install) !== 0)) return 1;
  const still = missingPrograms();
  for (const [name, why] of Object.entries(still)) console.error(`still missing after the install: ${name} (${why})`);
  return Object.keys(still).length === 0 ? 0 : 1;
}

function check(): number {
  const missing = missingPrograms();
  for (const name of Object.keys(REAL_PROGRAMS) as RealProgramName[]) {
    console.log(`${name.padEnd(18)} ${missing[name] ? `missing: ${missing[name]}` : 'ok'}  (Debian: ${REAL_PROGRAMS[name].packages.join(' ')})`);
  }
  return Object.keys(missing).length === 0 ? 0 : 1;
}

/** One vitest tag per program; a missing program's tag skips its tests unless they are required. */
function tags(): number {
  const missing = missingPrograms();
  const list = (Object.keys(REAL_PROGRAMS) as RealProgramName[]).map((name) => ({
    name,
    description: `runs ${REAL_PROGRAMS[name].commands.join(', ') || name} (Debian: ${REAL_PROGRAMS[name].packages.join(' ')})`,
    // Only a missing program's tag carries skip: a tag's options override those of the tags before it.
    ...(missing[name] && !realProgramsRequired() ? { skip: true } : {}),
  }));
  console.log(JSON.stringify(list));
  return 0;
}

const [what, ...rest] = process.argv.slice(2);
if (rest.length > 0 || !['check', 'command', 'install', 'tags'].includes(what ?? '')) {
  console.error(`${what === undefined ? 'no command given' : `unknown command ${JSON.stringify([what, ...rest].join(' '))}`}; ${USAGE}`);
  process.exit(2);
}
process.exit(what === 'check' ? check() : what === 'command' ? (console.log(INSTALL_COMMAND), 0) : what === 'tags' ? tags() : install());
