// Prints the figures of `bench/drills.sh` runs and their medians (argv: directory, runs).
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { median } from './stats';

const [dir, runsArg] = process.argv.slice(2);
const runs = Array.from({ length: Number(runsArg) }, (_, i) => i + 1);
const read = (kind: string, i: number) => {
  try {
    return JSON.parse(readFileSync(join(dir, `${kind}-${i}.json`), 'utf8'));
  } catch {
    return {}; // that kind was not run (DWS_DRILLS=db)
  }
};
const rows: [string, (i: number) => number][] = [
  ['web: docker kill app container, failed requests', (i) => read('web', i).killDrills['server-1-app'].failed],
  ['web: docker kill Nginx container, failed requests', (i) => read('web', i).killDrills['server-1-nginx'].failed],
  ['web: HAProxy reload with a changed config, failed requests', (i) => read('web', i).reloadDrill.failed],
  ['web: rolling deploy of a changed codebase, failed requests', (i) => read('web', i).rolloutDrill.failed],
  ['web: rolling deploy, requests sent', (i) => read('web', i).rolloutDrill.requests],
  ['web: rolling deploy, cdktf deploy seconds', (i) => read('web', i).rolloutDrill.deploySeconds],
  ['db: kill -9 writer process, writes unavailable ms', (i) => read('web', i).writerKill9Drill.unavailableMs],
  ['db: kill -9 writer process, acknowledged writes lost', (i) => read('web', i).writerKill9Drill.lost],
  ['db: kill -9 writer process, failed over (1) or reopened (0)', (i) => Number(read('web', i).writerKill9Drill.failedOver)],
  ['db: docker kill writer, writes unavailable ms', (i) => read('web', i).writerContainerKillDrill.unavailableMs],
  ['db: docker kill writer, agent saw the writer missing after ms', (i) => read('web', i).writerContainerKillDrill.timeline.writerMissed],
  ['db: docker kill writer, agent decided to fail over after ms', (i) => read('web', i).writerContainerKillDrill.timeline.decided],
  ['db: docker kill writer, new writer open after ms', (i) => read('web', i).writerContainerKillDrill.timeline.opened],
  ['db: docker kill writer, of which stopping its receiver ms', (i) => read('web', i).writerContainerKillDrill.timeline.stopReceiverMs],
  ['db: docker kill writer, first acknowledged write after ms', (i) => read('web', i).writerContainerKillDrill.timeline.firstAck],
  ['db: docker kill writer, acknowledged writes lost', (i) => read('web', i).writerContainerKillDrill.lost],
  ['db: old writer started again, rejoined after s', (i) => read('web', i).writerContainerKillDrill.rejoinSeconds],
  ['db: old writer rebuilt from a dump (1) or not needed (0)', (i) => Number(read('web', i).writerContainerKillDrill.rebuilt)],
  ['db: planned switchover by deploy, writes unavailable ms', (i) => read('web', i).switchoverDrill.unavailableMs],
  ['db: planned switchover, acknowledged writes lost', (i) => read('web', i).switchoverDrill.lost],
  ['db: CPU saturated, steady writes: failovers', (i) => read('web', i).cpuSaturatedSoak.failovers],
  ['db: CPU saturated, steady writes: failed writes', (i) => read('web', i).cpuSaturatedSoak.failed],
  ['db: CPU saturated, steady writes: longest write ms', (i) => read('web', i).cpuSaturatedSoak.maxWaitMs],
  ['pair: kill -9 active HAProxy, error window ms', (i) => read('pair', i).killHaproxy.windowMs],
  ['pair: kill -9 active HAProxy, failed requests', (i) => read('pair', i).killHaproxy.failed],
  ['pair: docker kill active node, error window ms', (i) => read('pair', i).killContainer.windowMs],
  ['pair: docker kill active node, failed requests', (i) => read('pair', i).killContainer.failed],
  ['pair: docker stop active node, error window ms', (i) => read('pair', i).stopContainer.windowMs],
  ['pair: docker stop active node, failed requests', (i) => read('pair', i).stopContainer.failed],
];
console.log(`| Drill | ${runs.map((i) => `run ${i}`).join(' | ')} | median |`);
console.log(`|---|${runs.map(() => '---|').join('')}---|`);
for (const [name, get] of rows) {
  const values = runs.map((i) => {
    try {
      return get(i);
    } catch {
      return undefined;
    }
  });
  if (values.every((v) => v === undefined)) continue;
  const known = values.filter((v): v is number => typeof v === 'number');
  console.log(`| ${name} | ${values.map((v) => v ?? '-').join(' | ')} | ${known.length ? median(known) : '-'} |`);
}
