import { DB_SECRET_FILES, DB_TLS_FILES, DatabaseEngine, FAILOVER_USER, HEARTBEAT } from './mysql';

/**
 * The database's writer/reader endpoints and its failover agent.
 *
 * The router (HAProxy, TCP) forwards its writer port to the node named in the file `writer` and
 * its reader port to the node named in `reader`; both files live on a volume the agent shares with
 * it. The agent is the only thing that decides: it keeps the designated writer writable and the
 * other node a read-only replica of it, moves the writer on a planned switchover or when the
 * writer is gone, and rejoins a returning node only when its GTIDs are a subset of the writer's.
 */

/** Where the agent and the router share their files. */
export const ROUTE_DIR = '/run/dws-route';

export const DB_ROUTER_PATHS = {
  config: '/etc/dws/db-router.cfg',
  routeCheck: '/etc/dws/route-check.sh',
} as const;

export const FAILOVER_PATHS = {
  agent: '/etc/dws/failover-agent.sh',
  secrets: '/etc/dws/secrets',
} as const;


export interface DbRouterModel {
  /** The database nodes' Docker DNS names, which are also their names in the route files. */
  readonly nodes: readonly string[];
  /** The nodes' MySQL port. */
  readonly nodePort: number;
  readonly writerPort: number;
  readonly readerPort: number;
  /** Docker's embedded DNS: nodes are re-resolved, since a restarted container may move. */
  readonly resolver: string;
  readonly maxConnections: number;
  /** Where the writer and reader ports listen (an address or a name). @default every address */
  readonly listenAddress?: string;
  /** Prometheus metrics (HAProxy's exporter) at http://address:port/metrics. @default none */
  readonly metrics?: { readonly address: string; readonly port: number };
}

/**
 * The router's check: a node is up in a backend ("writer" or "reader") when the route file of
 * that name lists it. HAProxy runs it every second with HAPROXY_PROXY_NAME and
 * HAPROXY_SERVER_NAME set; plain sh, no other program.
 */
export function renderRouteCheck(): string {
  return `#!/bin/sh
# Rendered by cdktf-distributed-web-stack: is this node routed for this backend?
[ -r "${ROUTE_DIR}/$HAPROXY_PROXY_NAME" ] || exit 1
while read -r node; do
  [ "$node" = "$HAPROXY_SERVER_NAME" ] && exit 0
done < "${ROUTE_DIR}/$HAPROXY_PROXY_NAME"
exit 1
`;
}

/** Renders the router's haproxy.cfg. */
export function renderDbRouterConfig(m: DbRouterModel): string {
  const backend = (name: string) => [
    `backend ${name}`,
    '  option external-check',
    '  external-check path "/usr/bin:/bin"',
    `  external-check command ${DB_ROUTER_PATHS.routeCheck}`,
    // A node taken out of a route loses its open sessions at once: that is the router's fence.
    '  default-server check inter 1s fall 1 rise 1 on-marked-down shutdown-sessions resolvers docker init-addr last,libc,none resolve-prefer ipv4',
    ...m.nodes.map((n) => `  server ${n} ${n}:${m.nodePort}`),
    '',
  ];
  return [
    '# Rendered by cdktf-distributed-web-stack: the database writer and reader endpoints.',
    'global',
    '  log stdout format raw local0 info',
    `  maxconn ${m.maxConnections}`,
    // The route check is a script: HAProxy must be allowed to fork it.
    '  external-check',
    '  insecure-fork-wanted',
    '  hard-stop-after 10s',
    '',
    'resolvers docker',
    `  nameserver docker ${m.resolver}:53`,
    '  resolve_retries 3',
    '  timeout resolve 1s',
    '  timeout retry 1s',
    '  hold valid 5s',
    '  hold nx 5s',
    '',
    'defaults',
    '  mode tcp',
    '  log global',
    '  option dontlognull',
    '  timeout connect 2s',
    '  timeout check 2s',
    // Database connections sit idle in pools for long: the server's own wait_timeout governs them.
    '  timeout client 8h',
    '  timeout server 8h',
    '',
    'frontend writer',
    `  bind ${m.listenAddress ?? ''}:${m.writerPort}`,
    '  default_backend writer',
    '',
    'frontend reader',
    `  bind ${m.listenAddress ?? ''}:${m.readerPort}`,
    '  default_backend reader',
    '',
    ...(m.metrics
      ? [
          // Which node each endpoint sends to, for the alerts on a failover or an unrouted writer.
          'frontend metrics',
          `  bind ${m.metrics.address}:${m.metrics.port}`,
          '  mode http',
          '  option dontlog-normal',
          '  timeout client 10s',
          '  timeout http-request 5s',
          '  http-request use-service prometheus-exporter if { path /metrics }',
          '  http-request deny',
          '',
        ]
      : []),
    ...backend('writer'),
    ...backend('reader'),
  ].join('\n');
}

export interface FailoverAgentModel {
  readonly engine: DatabaseEngine;
  /** The two nodes' Docker DNS names. */
  readonly nodes: readonly [string, string];
  readonly port: number;
  /** The node that should be the writer; a change moves the writer there (planned switchover). */
  readonly wantedWriter: string;
  /** Promote the replica by itself when the writer is gone. */
  readonly automatic: boolean;
  /** How long the writer must be unreachable before an automatic failover. */
  readonly failoverAfterSeconds: number;
  /** Longest wait for a node to apply what it has received before it is promoted. */
  readonly catchUpTimeoutSeconds: number;
  /** Longest dump or load when a former writer is rebuilt from the writer. */
  readonly rebuildTimeoutSeconds: number;
  readonly replicationUser: string;
  /** TLS to the nodes (CA at DB_TLS_FILES.ca on every container). */
  readonly tls: boolean;
  /** Semi-sync replication is on: the writer is its source, the other node its replica. */
  readonly semiSync: boolean;
}

/**
 * Renders the failover agent, a bash script run in the database engine's own image (so its client
 * speaks the servers' protocol and authentication). Passwords come from files at run time.
 */
export function renderFailoverAgent(m: FailoverAgentModel): string {
  const mysql = m.engine === 'mysql';
  const client = mysql ? 'mysql' : 'mariadb';
  const tlsOptions = !m.tls ? [] : mysql ? [`ssl-mode=VERIFY_IDENTITY`, `ssl-ca=${DB_TLS_FILES.ca}`] : ['ssl', `ssl-ca=${DB_TLS_FILES.ca}`, 'ssl-verify-server-cert'];
  // The engines name the same things differently.
  const thread = mysql ? 'REPLICA' : 'SLAVE';
  const [sourceSide, replicaSide] = mysql ? ['source', 'replica'] : ['master', 'slave'];
  const processlist = mysql ? 'performance_schema.processlist' : 'information_schema.PROCESSLIST';
  const semi = (on: string, off: string) => (m.semiSync ? `SET GLOBAL rpl_semi_sync_${off}_enabled = OFF; SET GLOBAL rpl_semi_sync_${on}_enabled = ON` : 'DO 0');
  const common = {
    asWriter: semi(sourceSide, replicaSide),
    asReplica: semi(replicaSide, sourceSide),
    restartIo: `STOP ${thread} IO_THREAD; START ${thread} IO_THREAD`,
    restartSemiSyncSource: semi(sourceSide, sourceSide),
    stop: `STOP ${thread}`,
    stopIo: `STOP ${thread} IO_THREAD`,
    reset: `RESET ${thread} ALL`,
    start: `START ${thread}`,
    stuckDump: `SELECT COUNT(*) FROM ${processlist} WHERE USER = '${m.replicationUser}' AND COMMAND = 'Killed' AND TIME >= 5`,
  };
  const q = mysql
    ? {
        ...common,
        state: `SELECT @@global.read_only, IF((SELECT VARIABLE_VALUE FROM performance_schema.global_status WHERE VARIABLE_NAME = 'Rpl_semi_sync_source_clients') > 0, IFNULL((SELECT VARIABLE_VALUE FROM performance_schema.global_status WHERE VARIABLE_NAME = 'Rpl_semi_sync_source_status'), 'OFF'), 'OFF'), REPLACE(@@global.gtid_executed, '\\n', '')${
          m.semiSync ? ', @@global.rpl_semi_sync_source_enabled, @@global.rpl_semi_sync_replica_enabled' : ''
        }`,
        fence: 'SET GLOBAL super_read_only = ON',
        open: 'SET GLOBAL super_read_only = OFF; SET GLOBAL read_only = OFF',
        // 0 once the set is applied, 1 on timeout.
        wait: (set: string, seconds: string) => `SELECT WAIT_FOR_EXECUTED_GTID_SET('${set}', ${seconds})`,
        source: (host: string) =>
          `CHANGE REPLICATION SOURCE TO SOURCE_HOST='${host}', SOURCE_PORT=${m.port}, SOURCE_USER='${m.replicationUser}', SOURCE_PASSWORD='$REPLICATION_PASSWORD', SOURCE_AUTO_POSITION=1, GET_SOURCE_PUBLIC_KEY=1, SOURCE_CONNECT_RETRY=2, SOURCE_RETRY_COUNT=86400, SOURCE_HEARTBEAT_PERIOD=1${
            m.tls ? `, SOURCE_SSL=1, SOURCE_SSL_CA='${DB_TLS_FILES.ca}', SOURCE_SSL_VERIFY_SERVER_CERT=1` : ''
          }`,
      }
    : {
        ...common,
        state: `SELECT @@global.read_only, IF((SELECT VARIABLE_VALUE FROM information_schema.GLOBAL_STATUS WHERE VARIABLE_NAME = 'RPL_SEMI_SYNC_MASTER_CLIENTS') > 0, IFNULL((SELECT VARIABLE_VALUE FROM information_schema.GLOBAL_STATUS WHERE VARIABLE_NAME = 'RPL_SEMI_SYNC_MASTER_STATUS'), 'OFF'), 'OFF'), @@global.gtid_binlog_pos${
          m.semiSync ? ', @@global.rpl_semi_sync_master_enabled, @@global.rpl_semi_sync_slave_enabled' : ''
        }`,
        fence: 'SET GLOBAL read_only = ON',
        open: 'SET GLOBAL read_only = OFF',
        // 0 once the position is applied, -1 on timeout.
        wait: (set: string, seconds: string) => `SELECT MASTER_GTID_WAIT('${set}', ${seconds})`,
        // current_pos: a former writer asks for what follows its own last transaction, and the
        // writer (gtid_strict_mode) refuses with error 1236 if that transaction is not in its log.
        source: (host: string) =>
          `CHANGE MASTER TO MASTER_HOST='${host}', MASTER_PORT=${m.port}, MASTER_USER='${m.replicationUser}', MASTER_PASSWORD='$REPLICATION_PASSWORD', MASTER_USE_GTID=current_pos, MASTER_CONNECT_RETRY=2, MASTER_HEARTBEAT_PERIOD=1${
            m.tls ? `, MASTER_SSL=1, MASTER_SSL_CA='${DB_TLS_FILES.ca}', MASTER_SSL_VERIFY_SERVER_CERT=1` : ''
          }`,
      };
  const [a, b] = m.nodes;
  return `#!/bin/bash
# Rendered by cdktf-distributed-web-stack: the database failover agent (${m.engine}).
# Decides which node takes writes and writes that into ${ROUTE_DIR}, which the router reads.
set -uo pipefail
WANTED=${m.wantedWriter}
AUTOMATIC=${m.automatic ? 1 : 0}
SEMI_SYNC=${m.semiSync ? 1 : 0}
FAILOVER_AFTER=${m.failoverAfterSeconds}
CATCH_UP=${m.catchUpTimeoutSeconds}
REBUILD_TIMEOUT=${m.rebuildTimeoutSeconds}
SCHEMAS="SELECT schema_name FROM information_schema.schemata WHERE schema_name NOT IN ('mysql', 'sys', 'information_schema', 'performance_schema')"
ROUTES=${ROUTE_DIR}
STATE=$ROUTES/state
SECRETS=${FAILOVER_PATHS.secrets}
CNF=/tmp/dws-failover.cnf

log() { echo "dws-failover: $*"; }
# Says a thing once, not every second while it stays true.
said=''
say() { [ "$said" = "$*" ] || log "$*"; said="$*"; }

# Called in $(...): complains on stderr and fails, and the caller exits.
secret() {
  local value
  value=$(cat "$SECRETS/$1") || return 1
  [[ $value =~ ^[A-Za-z0-9]+$ ]] || { log "$SECRETS/$1 must hold letters and digits only" >&2; return 1; }
  printf '%s' "$value"
}
REPLICATION_PASSWORD=$(secret ${DB_SECRET_FILES.replication}) || exit 1
FAILOVER_PASSWORD=$(secret ${DB_SECRET_FILES.failover}) || exit 1
umask 077
printf '%s\\n' '[client]' 'user=${FAILOVER_USER}' "password=$FAILOVER_PASSWORD" 'port=${m.port}'${tlsOptions.map((o) => ` '${o}'`).join('')} > "$CNF"
umask 022

# SQL on a node; output tab-separated, no headers. Statements go on stdin: the replication
# password is never on a command line. Bounded: a hung node is a failed call.
sql() { local node=$1; shift; timeout 3 ${client} --defaults-extra-file="$CNF" --host="$node" --connect-timeout=2 -N -B <<<"$*"; }
sql_long() { local node=$1 s=$2; shift 2; timeout "$s" ${client} --defaults-extra-file="$CNF" --host="$node" --connect-timeout=2 -N -B <<<"$*"; }
# One field of SHOW REPLICA STATUS (empty when the node replicates from nobody); ERE names.
field() { sed -En "s/^ *$1: //p" <<<"$2"; }
replica_status() { timeout 3 ${client} --defaults-extra-file="$CNF" --host="$1" --connect-timeout=2 -E <<<'SHOW REPLICA STATUS'; }
other() { if [ "$1" = "${a}" ]; then echo ${b}; else echo ${a}; fi; }
# Atomic: the router never reads a half-written file.
route() { printf '%s\\n' "$2" > "$ROUTES/.$1" && mv -f "$ROUTES/.$1" "$ROUTES/$1"; }
routed() { cat "$ROUTES/$1" 2>/dev/null; }
remember() { printf '%s\\n' "$2" > "$ROUTES/.$1" && sync "$ROUTES/.$1" && mv -f "$ROUTES/.$1" "$ROUTES/$1" && sync "$ROUTES"; }

# Applies everything the node has received from its old source, then makes it replicate from
# nobody. Fails (and changes nothing more) if that does not finish within CATCH_UP seconds.
# "Read all relay log" rather than a GTID wait: a transaction cut off mid-way by the old source's
# death is in the received set but will never be applied.
detach() {
  local node=$1 status i
  status=$(replica_status "$node") || return 1
  [ -n "$status" ] || return 0
  # Stopping a receiver that is still trying the old source can take a while.
  sql_long "$node" 15 "${q.stopIo}" || return 1
  for ((i = 0; i < CATCH_UP * 5; i++)); do
    status=$(replica_status "$node") || return 1
    [[ $(field '(Replica|Slave)_SQL_Running_State' "$status") == *"has read all relay log"* ]] && break
    sleep 0.2
  done
  if [ $i -ge $((CATCH_UP * 5)) ]; then
    log "$node did not apply what it received within $CATCH_UP s: not promoted"
    return 1
  fi
  # STOP waits for the applier's workers to commit what they were given.
  sql_long "$node" "$CATCH_UP" "${q.stop}; ${q.reset}"
}

# Columns of the state query: read_only, semi-sync source status (OFF with no semi-sync replica
# connected: MariaDB may say ON then), GTIDs, and with semi-sync on
# whether the node is enabled as semi-sync source and as semi-sync replica.
WRITER_ROLE=${m.semiSync ? "'1	0'" : "''"}
REPLICA_ROLE=${m.semiSync ? "'0	1'" : "''"}
role() { cut -f4,5 <<<"$1"; }

# The designated writer: replicating from nobody, writable, semi-sync source.
open_writer() {
  local node=$1 state
  state=$(sql "$node" "${q.state}") || return 1
  [ "$(cut -f1 <<<"$state")" = 0 ] && [ "$(role "$state")" = "$WRITER_ROLE" ] && return 0
  detach "$node" || return 1
  sql "$node" "${q.asWriter}; ${q.open}" || return 1
  log "$node takes writes"
}

# Seen on MariaDB 11.8 after a replica's network was cut: the writer's binlog dump thread for it,
# killed when the replica reconnects, hangs while it leaves the semi-sync ack receiver, and the
# replica's new connection waits behind it, for minutes (the replica receives nothing). Turning
# the semi-sync source off and on restarts the ack receiver and frees both. Called only while no
# semi-sync replica is connected, so no commit is waiting for an acknowledgement.
unstick_dumps() {
  local writer=$1 stuck
  stuck=$(sql "$writer" "${q.stuckDump}") || return 0
  [ "\${stuck:-0}" -gt 0 ] || return 0
  log "$writer: a killed replication connection has hung for 5 s or more; restarting the semi-sync source"
  sql "$writer" "${q.restartSemiSyncSource}"
}

# A node lost as the writer may come back with transactions the new writer lacks: ones in its
# binary log that no replica acknowledged (AFTER_SYNC), so no client saw them commit. That node
# alone is rebuilt from the writer; any other divergence waits for a person.
diverged() {
  local node=$1 writer=$2
  if [ "$(cat "$ROUTES/lost" 2>/dev/null)" != "$node" ]; then
    say "$node has transactions $writer does not have: left out, read-only (rebuild it from $writer by hand)"
    return 1
  fi
  rebuild "$node" "$writer"
}

# Replaces the node's databases (all but the system schemas) with a consistent dump of the
# writer's, with the writer's GTID position, so it can replicate from there.
rebuild() {
  local node=$1 writer=$2 dump=/tmp/dws-rebuild.sql schemas db${mysql ? '' : ' pos'}
  log "rebuilding $node from $writer: its extra transactions were never acknowledged"
  sql "$node" "${q.stop}" >/dev/null 2>&1
  sql "$node" "${q.reset}" >/dev/null 2>&1
  schemas=$(sql "$writer" "$SCHEMAS") || return 1
  # shellcheck disable=SC2086 # one word per schema
  if ! timeout "$REBUILD_TIMEOUT" ${m.engine === 'mysql' ? 'mysqldump' : 'mariadb-dump'} --defaults-extra-file="$CNF" --host="$writer" --single-transaction --routines --events --triggers ${
    mysql ? '--set-gtid-purged=ON' : '--gtid --master-data=2'
  } --databases $schemas > "$dump"; then
    log "rebuild: the dump of $writer failed"
    rm -f "$dump"
    return 1
  fi
  {
    echo 'SET SESSION sql_log_bin = 0;'
    for db in $(sql "$node" "$SCHEMAS"); do echo "DROP DATABASE \\\`$db\\\`;"; done
  } > "$dump.drop"
${
  mysql
    ? `  sql "$node" "SET GLOBAL super_read_only = OFF" || return 1
  if ! { cat "$dump.drop" && echo 'RESET BINARY LOGS AND GTIDS;' && cat "$dump"; } | timeout "$REBUILD_TIMEOUT" ${client} --defaults-extra-file="$CNF" --host="$node" --connect-timeout=2; then
    log "rebuild: loading $node failed"
    sql "$node" "${q.fence}"
    return 1
  fi
  sql "$node" "${q.fence}"`
    : `  pos=$(sed -n "s/^-- SET GLOBAL gtid_slave_pos='\\(.*\\)';$/\\1/p" "$dump")
  if ! { cat "$dump.drop" && echo 'RESET MASTER;' && cat "$dump" && echo "SET GLOBAL gtid_slave_pos = '$pos';"; } | timeout "$REBUILD_TIMEOUT" ${client} --defaults-extra-file="$CNF" --host="$node" --connect-timeout=2; then
    log "rebuild: loading $node failed"
    return 1
  fi`
}
  rm -f "$dump" "$dump.drop" "$ROUTES/lost"
  log "rebuilt $node from $writer"
}

# The other node: read-only first, then a semi-sync replica of the writer, if it can be one.
follow() {
  local node=$1 writer=$2 state status${mysql ? ' mine' : ''}
  state=$(sql "$node" "${q.state}") || return 1
  if [ "$(cut -f1 <<<"$state")" != 1 ]; then
    sql "$node" "${q.fence}" || return 1
    log "$node fenced (read-only)"
  fi
  status=$(replica_status "$node") || return 1
  if [ "$(field '(Source|Master)_Host' "$status")" = "$writer" ]; then
    # A node restarted as a replica comes back with the semi-sync roles of its option file; a
    # replica registers as semi-sync when its receiver (re)connects.
    if [ "$(role "$state")" != "$REPLICA_ROLE" ]; then
      sql "$node" "${q.asReplica}; ${q.restartIo}" || return 1
      log "$node: semi-sync replica again"
    fi
    if [ "$(field Last_IO_Errno "$status")" = 1236 ]; then
      sql "$node" "${q.stop}"
      diverged "$node" "$writer"
      return 1
    fi
    # Receiving for 30 s: if it was lost as the writer, it rejoined with nothing to discard (a
    # diverged node is refused as soon as its receiver asks for its position, within a second).
    if [ "$(field '(Replica|Slave)_IO_Running' "$status")" != Yes ]; then
      receiving_since=''
    elif [ -z "$receiving_since" ]; then
      receiving_since=$(date +%s)
    elif [ $(($(date +%s) - receiving_since)) -ge 30 ] && [ "$(cat "$ROUTES/lost" 2>/dev/null)" = "$node" ]; then
      rm -f "$ROUTES/lost"
    fi
    return 0
  fi
${
  mysql
    ? `  mine=$(cut -f3 <<<"$state")
  if [ "$(sql "$writer" "SELECT GTID_SUBSET('$mine', @@global.gtid_executed)")" != 1 ]; then
    diverged "$node" "$writer"
    return 1
  fi
`
    : ''
}  sql "$node" "${q.stop}" >/dev/null 2>&1 # fails harmlessly on a node that replicated from nobody
  sql "$node" "${q.asReplica}; ${q.source('$writer')}; ${q.start}" || return 1
  log "$node replicates from $writer"
}

# Every second: routes reads to the replica while it replicates, else to the writer.
route_reads() {
  local writer=$1 node=$2 status=$3
  if [ "$(field '(Source|Master)_Host' "$status")" = "$writer" ] && [ "$(field '(Replica|Slave)_SQL_Running' "$status")" = Yes ] && [ "$(field '(Replica|Slave)_IO_Running' "$status")" = Yes ]; then
    route reader "$node"
  else
    route reader "$writer"
  fi
}

# Moves the writer to node while the old one is alive: fence, catch up, promote.
switchover() {
  local from=$1 to=$2 at
  route writer ''
  sleep 2 # the router drops the old writer's sessions within its 1 s check
  sql "$from" "${q.fence}" || { log "switchover: cannot fence $from"; route writer "$from"; return 1; }
  at=$(sql "$from" "${q.state}" | cut -f3)
  if [ -n "$at" ] && [ "$(sql_long "$to" $((CATCH_UP + 5)) "${q.wait('$at', '$CATCH_UP')}")" != 0 ]; then
    log "switchover: $to did not catch up with $from within $CATCH_UP s; $from stays the writer"
    sql "$from" "${q.open}"
    route writer "$from"
    return 1
  fi
  remember state "$to"
  open_writer "$to" && route writer "$to"
  log "switchover: $to is the writer (was $from)"
}

# The writer is gone: promote the replica, which has every acknowledged write (semi-sync).
failover() {
  local from=$1 to=$2
  route writer ''
  remember lost "$from"
  remember state "$to"
  receiving_since=''
  log "failover: $from unreachable for $FAILOVER_AFTER s; promoting $to"
  if open_writer "$to"; then route writer "$to"; log "failover: $to is the writer"; fi
}

heartbeat() {
  while :; do
    w=$(routed writer)
    [ -n "$w" ] && sql "$w" "REPLACE INTO ${HEARTBEAT.database}.${HEARTBEAT.table} (server_id, ts) VALUES (0, UTC_TIMESTAMP(6))" >/dev/null 2>&1
    sleep 1
  done
}

[ -s "$STATE" ] || remember state "$WANTED"
[ -s "$ROUTES/wanted" ] || remember wanted "$WANTED"
heartbeat &
heartbeat_pid=$!
trap 'kill $heartbeat_pid 2>/dev/null; exit 0' TERM INT
last_ok=$(date +%s)
# Safe to promote the replica (or to switch over to it) only if, when last seen, the writer
# replicated to it semi-synchronously (so it has every acknowledged write) and its receiver was
# connected.
safe=0
unsafe='nothing was seen yet'
source=''
receiving=''
receiving_since=''
log "started: writer $(cat "$STATE"), wanted $WANTED, automatic failover $([ $AUTOMATIC = 1 ] && echo "after $FAILOVER_AFTER s" || echo off)"
while :; do
  writer=$(cat "$STATE")
  node=$(other "$writer")
  wstate=$(sql "$writer" "${q.state}" 2>/dev/null)
  probe=$?
  if [ $probe = 0 ]; then
    last_ok=$(date +%s)
    semi_sync_status=$(cut -f2 <<<"$wstate")
    if open_writer "$writer"; then route writer "$writer"; fi
    follow "$node" "$writer" 2>/dev/null
    [ $SEMI_SYNC = 1 ] && [ "$semi_sync_status" != ON ] && unstick_dumps "$writer" 2>/dev/null
    said=''
    if status=$(replica_status "$node" 2>/dev/null); then
      route_reads "$writer" "$node" "$status"
      source=$(field '(Source|Master)_Host' "$status")
      receiving=$(field '(Replica|Slave)_IO_Running' "$status")
    else
      # Not seen this time (busy, or gone): reads go to the writer; what was seen last stands.
      route reader "$writer"
    fi
    # The verdict rests on what the writer said while alive (this probe): semi-sync ON means a
    # replica was connected and acknowledging. The replica's own view is read after the probe
    # and may already show the writer's death, so only its configured source counts.
    if [ "$source" != "$writer" ]; then
      safe=0
      unsafe="$node did not replicate from $writer"
    elif [ $SEMI_SYNC = 1 ]; then
      if [ "$semi_sync_status" = ON ]; then safe=1; else safe=0; unsafe="semi-sync was off on $writer"; fi
    elif [ "$receiving" = Yes ]; then
      safe=1
    else
      safe=0
      unsafe="$node was not receiving from $writer"
    fi
    # A changed wanted writer (the prop, on deploy) is a planned switchover, once.
    if [ "$(cat "$ROUTES/wanted")" != "$WANTED" ]; then
      if [ "$WANTED" = "$writer" ] || { [ $safe = 1 ] && switchover "$writer" "$node"; }; then
        remember wanted "$WANTED"
      else
        say "switchover to $WANTED waits until it replicates semi-synchronously from $writer"
      fi
    fi
  elif [ $probe = 124 ] && sql "$writer" 'SELECT 1' >/dev/null 2>&1; then
    # Connected but slow to report its state (seen for 20 s while a replication connection hung,
    # see unstick_dumps), and answers: not down, and nothing is decided on it.
    last_ok=$(date +%s)
    say "$writer answers but did not report its state within 3 s"
  else
    down=$(($(date +%s) - last_ok))
    say "$writer unreachable"
    if [ $AUTOMATIC = 1 ] && [ $down -ge "$FAILOVER_AFTER" ]; then
      if [ $safe = 1 ] && sql "$node" 'SELECT 1' >/dev/null 2>&1; then
        failover "$writer" "$node"
        remember wanted "$WANTED"
        safe=0
      else
        say "$writer unreachable for $down s; not promoting $node: $([ $safe = 1 ] && echo "it is unreachable too" || echo "when last seen, $unsafe")"
      fi
    fi
  fi
  sleep 1 & wait $!
done
`;
}
