// `npm run bench` (via bench/run.sh): runs the parts named on the command line (default: all),
// each saving bench/.work/results/<part>.json, then writes docs/BENCHMARKS.md from the results.
import { benchSynth } from './synth';
import { log } from './common';
import { writeReport } from './report';

const PARTS = ['synth', 'lb', 'lag', 'drill', 'deploy'] as const;
const RUNS = Number(process.env.DWS_BENCH_RUNS ?? 5);

async function main() {
  const asked = process.argv.slice(2).filter((a) => a !== 'report');
  for (const a of asked) if (!(PARTS as readonly string[]).includes(a)) throw new Error(`unknown part ${a}; parts: ${PARTS.join(' ')} report`);
  const parts = process.argv.slice(2).length ? asked : [...PARTS];
  const started = Date.now();
  for (const part of parts) {
    log(`--- ${part} (${RUNS} runs)`);
    const t = Date.now();
    if (part === 'synth') await benchSynth(RUNS);
    else await (await import('./stack')).benchStackPart(part, RUNS);
    log(`--- ${part} done in ${((Date.now() - t) / 1000).toFixed(0)} s`);
  }
  if (parts.some((p) => p !== 'synth')) (await import('./stack')).teardown(); // our stack only
  writeReport({ totalSeconds: (Date.now() - started) / 1000, parts });
  log(`wrote docs/BENCHMARKS.md (${((Date.now() - started) / 1000).toFixed(0)} s)`);
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
