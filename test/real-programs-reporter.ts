// After a run: one notice naming each real program that is missing here, how many tests that
// skipped (or, with DWS_REAL_PROGRAMS=require, made fail), and the one command that installs them all.
import type { Reporter, TestModule } from 'vitest/node';
import { INSTALL_COMMAND, missingPrograms, RealProgramName, realProgramsRequired } from './real-program-table';

export default class RealProgramsReporter implements Reporter {
  onTestRunEnd(testModules: ReadonlyArray<TestModule>): void {
    const missing = missingPrograms();
    const names = Object.keys(missing) as RealProgramName[];
    if (names.length === 0) return;
    const required = realProgramsRequired();
    const counts = new Map<RealProgramName, number>(names.map((n) => [n, 0]));
    for (const module of testModules) {
      for (const test of module.children.allTests()) {
        const state = test.result().state;
        if (state !== (required ? 'failed' : 'skipped')) continue;
        for (const tag of test.tags) if (counts.has(tag as RealProgramName)) counts.set(tag as RealProgramName, counts.get(tag as RealProgramName)! + 1);
      }
    }
    const verb = required ? 'failed (DWS_REAL_PROGRAMS=require)' : 'skipped';
    const lines = names.map((n) => `  ${n.padEnd(18)} ${missing[n]}: ${counts.get(n)} test${counts.get(n) === 1 ? '' : 's'} ${verb}`);
    const text = [
      '',
      `Real programs missing on this machine (tests that need them were ${required ? 'run, and fail' : 'skipped'}):`,
      ...lines,
      `Install them all (Debian, as root): ${INSTALL_COMMAND}`,
      'or run `npm run test:real`, which installs them and runs these tests with DWS_REAL_PROGRAMS=require.',
      '',
    ].join('\n');
    process.stdout.write(text + '\n');
  }
}
