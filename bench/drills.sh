#!/usr/bin/env bash
# `npm run drills [runs]`: the failure drills of the e2e, run several times (default 3) on real
# deployments, with the figures of each run and their medians printed at the end:
#   web stack (MariaDB; DWS_DRILLS_ENGINE=mysql for MySQL with TLS): docker kill of an app container and of an Nginx container, an HAProxy
#     reload with a changed config, a rolling deploy of a changed codebase, each under a GET every
#     20 ms: failed requests;
#   database (the same engine), under acknowledged INSERTs at 50/s: kill -9 of the writer's server, docker kill
#     of the writer (then started again: rejoin), a planned switchover by deploy: writes
#     unavailable, acknowledged writes lost;
#   load balancer pair: kill -9 of the active HAProxy, docker kill and docker stop of the active
#     node, under a GET every 20 ms to the floating IP: error window and failed requests.
# DWS_DRILLS=db: the database drills only (and the CPU-saturated soak: DWS_SOAK_SECONDS, default 60).
# Run it alone on the machine (timings).
set -euo pipefail
REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$REPO"
runs=${1:-3}
engine=${DWS_DRILLS_ENGINE:-mariadb}
[[ $engine =~ ^(mysql|mariadb)$ ]] || { echo "DWS_DRILLS_ENGINE must be mysql or mariadb (got $engine)" >&2; exit 2; }
only=${DWS_DRILLS:-all}
[[ $only =~ ^(all|db)$ ]] || { echo "DWS_DRILLS must be all or db (got $only)" >&2; exit 2; }
filter="$engine.*drill:"
[[ $only == db ]] && filter="$engine.*drill: (kill -9 of the replica|replica cut off|steady writes|kill -9 of the writer|docker kill of the writer|planned switchover)"
out=$REPO/bench/.work/drills
rm -rf "$out" && mkdir -p "$out"
bash test/e2e/testbed/setup.sh >/dev/null
for i in $(seq 1 "$runs"); do
  echo "== run $i/$runs: web stack drills"
  npx vitest run --config vitest.e2e.config.mts test/e2e/deploy.e2e.test.ts -t "$filter" > "$out/web-$i.log" 2>&1 || { tail -n 40 "$out/web-$i.log"; exit 1; }
  cp "test/e2e/.work/$engine.json" "$out/web-$i.json"
  [[ $only == db ]] && continue
  echo "== run $i/$runs: load balancer pair drills"
  npx vitest run --config vitest.e2e.config.mts test/e2e/lb-pair.e2e.test.ts > "$out/pair-$i.log" 2>&1 || { tail -n 40 "$out/pair-$i.log"; exit 1; }
  cp test/e2e/.work/pair.json "$out/pair-$i.json"
done
npx tsx bench/drills-summary.ts "$out" "$runs"
