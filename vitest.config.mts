import { defineConfig } from 'vitest/config';
import { missingPrograms, REAL_PROGRAM_NAMES, REAL_PROGRAMS, realProgramsRequired, TEST_PATH } from './test/real-program-table';

// A test that runs a real program carries the program's name as a tag. When the program is
// missing here, its tests are skipped (and the reporter says which and how to install them),
// unless DWS_REAL_PROGRAMS=require: then they run and fail.
const mode = process.env.DWS_REAL_PROGRAMS ?? 'skip';
if (mode !== 'skip' && mode !== 'require') {
  throw new Error(`DWS_REAL_PROGRAMS must be "skip" (the default) or "require" (got ${JSON.stringify(mode)})`);
}
process.env.PATH = TEST_PATH;
const missing = missingPrograms();

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    exclude: ['test/e2e/**', 'test/package/**', 'node_modules/**'],
    setupFiles: ['test/setup.ts'],
    testTimeout: 60_000,
    // Most tests wait on real programs, not on the CPU: more workers than the 2 cores finish sooner.
    maxWorkers: 4,
    tags: REAL_PROGRAM_NAMES.map((name) => ({
      name,
      description: `runs ${REAL_PROGRAMS[name].commands.join(', ') || name} (Debian: ${REAL_PROGRAMS[name].packages.join(' ')})`,
      // only a missing program's tag carries skip: a tag's options override those of the tags before it
      ...(name in missing && !realProgramsRequired() ? { skip: true } : {}),
    })),
    reporters: ['default', './test/real-programs-reporter.ts'],
  },
});
