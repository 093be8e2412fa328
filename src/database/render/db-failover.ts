import { DB_TLS_FILES, DatabaseEngine, FAILOVER_USER, HEARTBEAT } from './mysql';

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
  config: '/etc/dws/failover.json',
  secrets: '/etc/dws/secrets',
  /** The client's option file and rebuild dumps (a tmpfs would lose nothing it needs). */
  work: '/tmp/dws-failover',
} as const;

/** The agent's Prometheus port, on the management network. */
export const FAILOVER_METRICS_PORT = 9105;


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
 * that name lists it. HAProxy runs it every 250 ms with HAPROXY_PROXY_NAME and
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
    // Every 250 ms: a route change reaches clients that soon (a plain sh, 16 forks a second).
    '  default-server check inter 250ms fall 1 rise 1 on-marked-down shutdown-sessions resolvers docker init-addr last,libc,none resolve-prefer ipv4',
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
  /** How long the writer must be unreachable (refused, timed out) before an automatic failover. */
  readonly failoverAfterSeconds: number;
  /** How long a writer whose container is gone (its name does not resolve) is waited for. */
  readonly goneAfterSeconds: number;
  /** Longest wait for a node to apply what it has received before it is promoted. */
  readonly catchUpTimeoutSeconds: number;
  /** Longest dump or load when a former writer is rebuilt from the writer. */
  readonly rebuildTimeoutSeconds: number;
  readonly replicationUser: string;
  /** TLS to the nodes (CA at DB_TLS_FILES.ca on every container). */
  readonly tls: boolean;
  /** Semi-sync replication is on: the writer is its source, the other node its replica. */
  readonly semiSync: boolean;
  /** host:port of the agent's Prometheus endpoint. @default none */
  readonly metricsAddress?: string;
}

/**
 * Renders the failover agent's configuration (assets/db-failover reads it: Config in config.go).
 * Passwords are files in FAILOVER_PATHS.secrets, never in it.
 */
export function renderFailoverConfig(m: FailoverAgentModel): string {
  return `${JSON.stringify(
    {
      engine: m.engine,
      nodes: m.nodes.map((n) => ({ name: n, host: n, port: m.port })),
      wantedWriter: m.wantedWriter,
      automatic: m.automatic,
      semiSync: m.semiSync,
      failoverAfterSeconds: m.failoverAfterSeconds,
      goneAfterSeconds: m.goneAfterSeconds,
      catchUpTimeoutSeconds: m.catchUpTimeoutSeconds,
      rebuildTimeoutSeconds: m.rebuildTimeoutSeconds,
      probeIntervalMs: 500,
      probeTimeoutMs: 2000,
      // Docker's DNS answers a running container's name in milliseconds; on an internal network it
      // does not answer for a stopped one at all.
      lookupTimeoutMs: 500,
      // The router's check runs every 250 ms: its sessions to the old writer are gone by then.
      switchoverDrainMs: 750,
      replicationUser: m.replicationUser,
      agentUser: FAILOVER_USER,
      secretsDir: FAILOVER_PATHS.secrets,
      routeDir: ROUTE_DIR,
      ...(m.tls ? { tls: { ca: DB_TLS_FILES.ca } } : {}),
      heartbeat: HEARTBEAT,
      ...(m.metricsAddress ? { metricsAddress: m.metricsAddress } : {}),
      workDir: FAILOVER_PATHS.work,
    },
    null,
    2,
  )}\n`;
}
