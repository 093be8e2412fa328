import { spawnSync } from 'node:child_process';
import { defineConfig } from 'vitest/config';

// A test that runs a real program carries the program's name as a tag. When the program is
// missing here, its tests are skipped (and the reporter says which and how to install them),
// unless DWS_REAL_PROGRAMS=require: then they run and fail. The table and the probes are in
// test/real-program-table.ts, asked through scripts/real-programs.ts (a config imports no TS).
const mode = process.env.DWS_REAL_PROGRAMS ?? 'skip';
if (mode !== 'skip' && mode !== 'require') {
  throw new Error(`DWS_REAL_PROGRAMS must be "skip" (the default) or "require" (got ${JSON.stringify(mode)})`);
}
// Debian puts most daemons in sbin, which a non-root user's PATH may lack.
process.env.PATH = [process.env.PATH, '/usr/local/sbin', '/usr/sbin', '/sbin'].filter(Boolean).join(':');
const probe = spawnSync('node_modules/.bin/tsx', ['scripts/real-programs.ts', 'tags'], { encoding: 'utf8', timeout: 60_000 });
if (probe.status !== 0) throw new Error(`scripts/real-programs.ts tags failed (${probe.error?.message ?? probe.status}): ${probe.stderr}`);

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    exclude: ['test/e2e/**', 'test/package/**', 'node_modules/**'],
    setupFiles: ['test/setup.ts'],
    testTimeout: 60_000,
    // Most tests wait on real programs, not on the CPU: more workers than the 2 cores finish sooner.
    maxWorkers: 4,
    tags: JSON.parse(probe.stdout),
    reporters: ['default', './test/real-programs-reporter.ts'],
  },
});
