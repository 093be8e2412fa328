// Writes docs/BENCHMARKS.md from bench/.work/results/*.json.
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { cpus, totalmem } from 'node:os';
import { join } from 'node:path';
import { COMPOSE_VERSION, REPO, loadResult, sh, sourceDescription } from './common';
import { median, summary } from './stats';

const ms = (v: number[]) => summary(v, 0);
const us = (v: number[]) => summary(v, 0);
const x = (v: number[]) => `${summary(v, 2)}×`;
const verdict = (ok: boolean) => (ok ? '**met**' : '**missed**');

function machine(): string[] {
  const out = (cmd: string, args: string[]) => {
    try {
      return sh(cmd, args, { allowFail: true }).out.trim();
    } catch {
      return '?';
    }
  };
  const versions = (() => {
    try {
      return readFileSync('/var/cache/dws-testbed/versions.txt', 'utf8').trim().split('\n');
    } catch {
      return [];
    }
  })();
  return [
    `- CPU: ${cpus()[0]?.model ?? '?'} × ${cpus().length}; memory ${(totalmem() / 2 ** 30).toFixed(1)} GiB; ${out('uname', ['-sr'])}; ${out('sh', ['-c', '. /etc/os-release && echo $PRETTY_NAME'])}`,
    `- Docker engine ${out('docker', ['version', '--format', '{{.Server.Version}}'])} (shared with other workloads during the run: figures are medians, comparisons per-run ratios)`,
    `- Node ${process.version}, ${out('terraform', ['version']).split('\n')[0]}, cdktf-cli ${JSON.parse(readFileSync(join(REPO, 'node_modules', 'cdktf-cli', 'package.json'), 'utf8')).version}, Docker Compose ${COMPOSE_VERSION}`,
    ...versions.map((v) => `- image ${v}`),
  ];
}

export function writeReport(run: { totalSeconds: number; parts: string[]; note?: string }): void {
  const synth = loadResult<any>('synth');
  const deploy = loadResult<any>('deploy');
  const lb = loadResult<any>('lb');
  const drill = loadResult<any>('drill');
  const lag = loadResult<any>('lag');
  const rows: string[] = [];
  const goals: string[] = [];
  const commands: string[] = [];
  const causes: string[] = [];

  if (synth) {
    const w = (k: string) => synth.runsByKind[k].map((r: any) => r.wallMs);
    rows.push(`| 1 | Synth, full DistributedWebStack (plain node process, wall) | ${ms(w('full'))} ms | |`);
    rows.push(`| 1 | Synth, bare stack with one docker container | ${ms(w('bare'))} ms | |`);
    rows.push(`| 1 | Floor: load cdktf + docker/random/tls bindings | ${ms(w('floor'))} ms | |`);
    const r = median(synth.fullOverBare);
    rows.push(`| 1 | full / bare | ${x(synth.fullOverBare)} | ≤ 1.5× ${verdict(r <= 1.5)} |`);
    rows.push(`| 1 | full / floor | ${x(synth.fullOverFloor)} | |`);
    rows.push(`| 1 | bare / floor | ${x(synth.bareOverFloor)} | |`);
    goals.push(`Synth ≤ 1.5× bare: ${verdict(r <= 1.5)} (${r.toFixed(2)}×).`);
    commands.push(...synth.commands, ...(synth.profileCommand ? [synth.profileCommand] : []));
    if (r > 1.5) {
      const ph = synth.extraMs;
      const lb = synth.runsByKind.full.map((f: any) => f.loadBreakdown);
      const keys = Object.keys(lb[0] ?? {});
      const full = synth.runsByKind.full;
      causes.push(
        `**Synth (${r.toFixed(2)}× bare).** Per run, the full stack's wall time minus the bare one's splits into (medians, ms) ` +
          `loading modules +${median(ph.load).toFixed(0)}, constructing +${median(ph.construct).toFixed(0)}, synth +${median(ph.synth).toFixed(0)}; the rest is process start/exit. ` +
          `Loading, timed per package in the full process (medians, ms): ${keys.map((k) => `${k} ${median(lb.map((b: any) => b[k])).toFixed(0)}`).join(', ')}. ` +
          `The bare stack loads only cdktf and the docker bindings (${median(synth.runsByKind.bare.map((b: any) => b.loadMs)).toFixed(0)} ms in-process); bare / floor = ${median(synth.bareOverFloor).toFixed(2)}×, full / floor = ${median(synth.fullOverFloor).toFixed(2)}×. ` +
          `In the full process, constructing takes ${median(full.map((f: any) => f.constructMs)).toFixed(0)} ms and synth ${median(full.map((f: any) => f.synthMs)).toFixed(0)} ms.`,
      );
      for (const k of ['full', 'bare']) {
        const p = synth.profiles?.[k];
        if (!p) continue;
        causes.push(
          `  CPU profile of one ${k} synth (V8 sampling, 200 µs; module loading charged to the package that required it), top by package (ms): ` +
            p.byPackage.map(([n, v]: [string, number]) => `${n} ${v.toFixed(0)}`).join(', ') +
            `; top functions (self ms): ${p.byFunction.slice(0, 5).map(([n, v]: [string, number]) => `${n} ${v.toFixed(0)}`).join(', ')}.`,
        );
      }
    }
  }

  if (deploy) {
    const cold = deploy.cold.map((c: any) => c.seconds);
    const comp = deploy.compose.map((c: any) => c.seconds);
    const nc = deploy.noChange.map((c: any) => c.seconds);
    const r = median(deploy.coldOverCompose);
    rows.push(`| 2 | Cold \`cdktf deploy\` to all healthy | ${summary(cold, 1)} s | |`);
    rows.push(`| 2 | \`docker compose up -d --wait\`, same topology | ${summary(comp, 1)} s | |`);
    rows.push(`| 2 | cdktf / compose | ${x(deploy.coldOverCompose)} | ≤ 1.3× ${verdict(r <= 1.3)} |`);
    rows.push(`| 2 | No-change redeploy (\`cdktf deploy\`, plans no change) | ${summary(nc, 1)} s | |`);
    goals.push(`Deploy ≤ 1.3× compose: ${verdict(r <= 1.3)} (${r.toFixed(2)}×).`);
    commands.push(...deploy.commands);
    const phase = (k: string) => median(deploy.cold.map((c: any) => c[k] ?? NaN));
    const res = Object.keys(deploy.cold[0].resources);
    const resMed = res.map((n) => [n, median(deploy.cold.map((c: any) => c.resources[n] ?? NaN))] as [string, number]).sort((a, b) => b[1] - a[1]);
    const composeHealthy = deploy.compose[0].lines.filter((l: string) => /Healthy/.test(l)).slice(-1)[0];
    causes.push(
      `**Deploy (${r.toFixed(2)}× compose${r <= 1.3 ? ', within the goal' : ''}).** From the timestamps of \`cdktf deploy\`'s output lines (medians over the cold runs, s): ` +
        `synth and CLI start-up until \`terraform init\` ${phase('synthAndStartup').toFixed(1)}, init and plan ${phase('initAndPlan').toFixed(1)}, plan to first create ${phase('planToApply').toFixed(1)}, apply ${phase('apply').toFixed(1)}, after apply ${phase('afterApply').toFixed(1)}; ` +
        `compose's whole run is ${median(comp).toFixed(1)}. So cdktf's apply alone is ${median(deploy.cold.map((c: any, i: number) => (c.apply ?? NaN) / comp[i])).toFixed(2)}× compose (median of per-run ratios): the excess is what runs before the first resource is created (synth of the TypeScript app through \`npx tsx\` and the cdktf CLI's start-up, then \`terraform init\` and plan), ${median(deploy.cold.map((c: any) => (c.synthAndStartup ?? 0) + (c.initAndPlan ?? 0) + (c.planToApply ?? 0))).toFixed(1)} s per run. Slowest resources in the apply (Creating → Creation complete, s): ${resMed.slice(0, 6).map(([n, v]) => `${n} ${v.toFixed(1)}`).join(', ')}. ` +
        `Both wait for the primary to be healthy before starting the replica (the replica depends on it), so the database chain is common to both; compose's last line of its first run: \`${composeHealthy ?? ''}\`. ` +
        `A no-change redeploy (${median(nc).toFixed(1)} s) is: synth and start-up ${median(deploy.noChange.map((c: any) => c.synthAndStartup ?? NaN)).toFixed(1)}, then init, refresh and plan ${median(deploy.noChange.map((c: any) => (c.seconds - (c.synthAndStartup ?? 0)))).toFixed(1)}.`,
    );
  }

  if (lb) {
    for (const path of Object.keys(lb.paced)) {
      const p = lb.paced[path];
      rows.push(`| 3 | p50 / p99 at ${lb.rate} req/s \`GET ${path}\` through the LB (HTTPS, 2 servers) | ${us(p.lb.map((r: any) => r.p50us))} / ${us(p.lb.map((r: any) => r.p99us))} µs | |`);
      rows.push(`| 3 | p50 / p99 at ${lb.rate} req/s \`GET ${path}\` directly to one Nginx (HTTP) | ${us(p.nginx.map((r: any) => r.p50us))} / ${us(p.nginx.map((r: any) => r.p99us))} µs | |`);
      const add = median(lb.addedP50us[path]);
      rows.push(`| 3 | p50 added by the LB, \`GET ${path}\` | ${us(lb.addedP50us[path])} µs (p99 added ${us(lb.addedP99us[path])} µs) | ≤ 300 µs ${verdict(add <= 300)} |`);
      goals.push(`LB p50 added ≤ 300 µs (\`GET ${path}\`): ${verdict(add <= 300)} (${add.toFixed(0)} µs).`);
    }
    rows.push(`| 3 | Max throughput \`GET /\`, LB with 2 servers | ${summary(lb.max.lb.map((r: any) => r.rps), 0)} req/s | |`);
    rows.push(`| 3 | Max throughput \`GET /\`, one Nginx directly | ${summary(lb.max.nginx.map((r: any) => r.rps), 0)} req/s | |`);
    rows.push(`| 3 | LB (2 servers) / one server | ${x(lb.maxRatio)} | |`);
    const errs = [...lb.max.lb, ...lb.max.nginx, ...Object.values(lb.paced).flatMap((p: any) => [...p.lb, ...p.nginx])].reduce((a: number, r: any) => a + r.non2xx + r.socketErrors, 0);
    rows.push(`| 3 | Non-2xx responses + socket errors over all load runs | ${errs} | |`);
    commands.push(...lb.commands);
    const hp = (k: string) => median(lb.haproxy.map((h: any) => h[k]));
    const aloneP50 = median(lb.haproxyAlone.map((r: any) => r.p50us));
    const staticDirect = lb.paced['/hello.txt'] ? median(lb.paced['/hello.txt'].nginx.map((r: any) => r.p50us)) : NaN;
    const staticLb = lb.paced['/hello.txt'] ? median(lb.paced['/hello.txt'].lb.map((r: any) => r.p50us)) : NaN;
    rows.push(`| 3 | Breakdown: p50 of HAProxy answering by itself, plain HTTP (stats port \`/healthz\`, no TLS, no server) | ${us(lb.haproxyAlone.map((r: any) => r.p50us))} µs | |`);
    const worst = Math.max(...Object.keys(lb.paced).map((p) => median(lb.addedP50us[p])));
    causes.push(
      `**Load balancer (p50 added ${worst.toFixed(0)} µs at most${worst <= 300 ? ', within the goal' : ''}).** HAProxy's own averages over its last 1024 requests (Prometheus endpoint on the stats port, read after the paced runs), µs: ` +
        `queue ${hp('queueUs').toFixed(0)}, connect to a server ${hp('connectUs').toFixed(0)}, server response (HAProxy → Nginx → app and back) ${hp('responseUs').toFixed(0)} (HAProxy reports these in whole milliseconds; its total time also counts the paced client's idle keep-alive gaps, so it is left out). ` +
        `For the static file (medians): direct to Nginx ${staticDirect.toFixed(0)} µs, through the LB ${staticLb.toFixed(0)} µs, HAProxy answering by itself over plain HTTP ${aloneP50.toFixed(0)} µs. ` +
        `So one plain-HTTP round trip into HAProxy (client → HAProxy → client, no TLS, no server) costs about what Nginx needs to serve the file, and HAProxy-alone + Nginx-direct = ${(aloneP50 + staticDirect).toFixed(0)} µs of the ${staticLb.toFixed(0)} µs through the LB; ` +
        `the remaining ${(staticLb - aloneP50 - staticDirect).toFixed(0)} µs is TLS on the client connection (record encryption/decryption at both ends; handshakes are amortised: wrk keeps its connections) and HAProxy's connection to the server. ` +
        `The added latency is therefore the cost of the extra hop and of TLS termination on this 2-core host (client, HAProxy, Nginx and the app share the cores), not queueing: HAProxy reports zero queue and connect time. ` +
        `For \`GET /\` (through Nginx to the Node app) the added p50 is larger and varies most between runs: the app's own latency varies with the machine's load, and through the LB the two app servers alternate, each warm half as often.`,
    );
  }

  if (drill) {
    const failed = drill.perRun.map((r: any) => r.failed);
    const windows = drill.perRun.map((r: any) => r.errorWindowMs);
    rows.push(`| 4 | Failed GETs while one app container is stopped (of ~${median(drill.perRun.map((r: any) => r.requests)).toFixed(0)} per run) | ${summary(failed, 0)} | |`);
    rows.push(`| 4 | Error window (first to last failed GET) | ${ms(windows)} ms | |`);
    commands.push(drill.command);
  }
  rows.push(`| 4 | Write unavailability, lost writes (database failover drill) | not measured | no failover drill exists yet |`);

  if (lag) {
    const p50 = lag.perRun.map((r: any) => r.lagUsP50 / 1000);
    const p99 = lag.perRun.map((r: any) => r.lagUsP99 / 1000);
    rows.push(`| 5 | Replication lag p50 at ${lag.rate} writes/s (heartbeat) | ${summary(p50, 2)} ms | |`);
    rows.push(`| 5 | Replication lag p99 at ${lag.rate} writes/s | ${summary(p99, 2)} ms | |`);
    rows.push(`| 5 | Heartbeat writes per run / achieved rate / write errors | ${lag.perRun[0].writes} / ${summary(lag.perRun.map((r: any) => r.achievedRate), 1)} per s / ${lag.perRun.reduce((a: number, r: any) => a + r.writeErrors, 0)} | |`);
    rows.push(`| 5 | Replica poll interval (lag resolution) | ${summary(lag.perRun.map((r: any) => r.pollMsP50), 2)} ms | |`);
    commands.push(lag.command);
  }

  const runs = synth?.runs ?? deploy?.runs ?? lb?.runs ?? lag?.runs ?? drill?.runs;
  const doc = [
    '# Benchmarks',
    '',
    `Generated by \`npm run bench\` (bench/) on ${new Date().toISOString().slice(0, 16).replace('T', ' ')} UTC; this run took ${(run.totalSeconds / 60).toFixed(1)} min (parts: ${run.parts.join(', ')}). Code measured: ${sourceDescription()}.${run.note ? ` ${run.note}` : ''}`,
    `Each figure is the median of ${runs} runs, with the range of the runs in parentheses; each comparison is the median of per-run ratios (or differences), both sides measured in the same run, interleaved.`,
    'The stack is examples/basic (MySQL engine) with the testbed\'s local images, prefix `dwsbench`, published on 127.0.0.1:28080/28443.',
    '',
    '| Part | Measure | Result (median, range) | Goal |',
    '|---|---|---|---|',
    ...rows,
    '',
    '## Goals',
    '',
    ...goals.map((g) => `- ${g}`),
    '',
    '## Where the time goes (measured)',
    '',
    ...causes.flatMap((c) => [c, '']),
    '## Machine',
    '',
    ...machine(),
    '',
    '## Commands',
    '',
    '```sh',
    'npm run bench                 # = bash bench/run.sh: testbed setup, tools, then every part',
    'npm run bench -- synth lb     # some parts only (synth lb lag drill deploy); the report keeps the others\' last results',
    'DWS_BENCH_RUNS=7 npm run bench   # more runs; DWS_BENCH_REF=HEAD measures a commit instead of the work tree',
    '```',
    '',
    'What each part runs:',
    '',
    '```sh',
    ...commands,
    '```',
    '',
    'Raw per-run figures: bench/.work/results/*.json (not committed).',
    '',
  ].join('\n');
  mkdirSync(join(REPO, 'docs'), { recursive: true });
  writeFileSync(join(REPO, 'docs', 'BENCHMARKS.md'), doc);
}
