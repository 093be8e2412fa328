import { readdirSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ALL_PACKAGES, INSTALL_COMMAND, REAL_PROGRAM_NAMES, REAL_PROGRAMS } from './real-program-table';

const REPO = resolve(__dirname, '..');
const read = (file: string) => readFileSync(join(REPO, file), 'utf8');
const testFiles = (dir: string): string[] =>
  readdirSync(join(REPO, dir), { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? (e.name === 'e2e' ? [] : testFiles(join(dir, e.name))) : e.name.endsWith('.ts') ? [join(dir, e.name)] : [],
  );

describe('the real-program table', () => {
  it('is what the README tells a user to install, word for word', () => {
    expect(read('README.md')).toContain(`\n${INSTALL_COMMAND}\n`);
  });

  it('is what .ci/run installs, and .ci/run requires every program', () => {
    const ci = read('.ci/run');
    expect(ci).toContain('npx tsx scripts/real-programs.ts install');
    expect(ci).toMatch(/^DWS_REAL_PROGRAMS=require npm test$/m);
    expect(ci).not.toMatch(/apt-get install/);
  });

  it('names each package once, and every program is the tag of at least one test', () => {
    expect(new Set(ALL_PACKAGES).size).toBe(ALL_PACKAGES.length);
    const sources = testFiles('test').map(read).join('\n');
    for (const name of REAL_PROGRAM_NAMES) {
      expect(sources, `no test is tagged ${name}`).toMatch(new RegExp(`tags: \\[[^\\]]*'${name}'`));
      expect(REAL_PROGRAMS[name].packages.length).toBeGreaterThan(0);
    }
  });
});
