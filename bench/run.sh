#!/usr/bin/env bash
# `npm run bench`: prepares what the benchmarks need on this machine (idempotent), then runs
# bench/main.ts, which writes docs/BENCHMARKS.md. Arguments are passed on (part names).
#   Env: DWS_BENCH_RUNS (default 5), DWS_BENCH_REF (measure a commit, not the work tree)
set -euo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(dirname "$HERE")
CACHE=/var/cache/dws-bench
COMPOSE_VERSION=v2.27.0
mkdir -p "$CACHE/bin" "$CACHE/logs"
log() { printf '[bench prepare] %s\n' "$*" >&2; }

# Docker engine, local images (incl. the dws-wrk client image), terraform and providers.
bash "$REPO/test/e2e/testbed/setup.sh"

# Docker Compose v2 (Debian ships only v1, which has no `up --wait`): built from the Go module proxy.
if [[ ! -x $CACHE/bin/docker-compose ]]; then
  export PATH=$PATH:/usr/local/go/bin GOTOOLCHAIN=local GOFLAGS=-buildvcs=false GOPROXY=${GOPROXY:-https://proxy.golang.org}
  command -v go >/dev/null || { log "Go is needed to build Docker Compose $COMPOSE_VERSION"; exit 1; }
  log "building Docker Compose $COMPOSE_VERSION with Go (log: $CACHE/logs/compose-build.log)"
  rm -rf "$CACHE/gobin" && mkdir -p "$CACHE/gobin"
  if ! GOBIN=$CACHE/gobin go install \
    -ldflags "-X github.com/docker/compose/v2/internal.Version=$COMPOSE_VERSION" \
    "github.com/docker/compose/v2/cmd@$COMPOSE_VERSION" >"$CACHE/logs/compose-build.log" 2>&1; then
    tail -n 30 "$CACHE/logs/compose-build.log" >&2
    exit 1
  fi
  mv "$CACHE/gobin/cmd" "$CACHE/bin/docker-compose"
  rm -rf "$CACHE/gobin"
fi

cd "$REPO"
exec npx tsx bench/main.ts "$@"
