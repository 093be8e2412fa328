/** A backend server as HAProxy sees it: resolved through Docker's DNS at run time. */
export interface HaproxyServer {
  readonly name: string;
  readonly host: string;
  readonly port: number;
}

export interface HaproxyHealthCheck {
  readonly path: string;
  readonly expectStatus: number;
  readonly intervalSeconds: number;
  readonly timeoutSeconds: number;
  readonly fall: number;
  readonly rise: number;
}

export interface HaproxyModel {
  /** Port the public frontend binds inside the container. */
  readonly listenPort: number;
  /** Port of the statistics, metrics and health frontend (never published). */
  readonly statsPort: number;
  readonly healthCheck: HaproxyHealthCheck;
  readonly servers: readonly HaproxyServer[];
  readonly timeouts: { readonly connectSeconds: number; readonly clientSeconds: number; readonly serverSeconds: number };
  /** DNS server that resolves backend names; Docker's embedded DNS on user-defined networks. */
  readonly resolver: string;
  readonly maxConnections: number;
}

/** Renders haproxy.cfg. Pure: same model, same text. */
export function renderHaproxyConfig(m: HaproxyModel): string {
  const hc = m.healthCheck;
  const lines = [
    'global',
    '  log stdout format raw local0 info',
    `  maxconn ${m.maxConnections}`,
    // Graceful stop (SIGUSR1) and reloads must not hang forever on long-lived connections.
    '  hard-stop-after 30s',
    '  stats socket /tmp/haproxy.sock mode 600 level admin',
    '',
    // Backends are container names: re-resolve them so a replaced container is found again.
    'resolvers docker',
    `  nameserver docker ${m.resolver}`,
    '  resolve_retries 3',
    '  timeout resolve 1s',
    '  timeout retry 1s',
    '  hold valid 5s',
    '  hold nx 5s',
    '  hold obsolete 30s',
    '',
    'defaults',
    '  mode http',
    '  log global',
    '  option httplog',
    '  option dontlognull',
    '  option forwardfor',
    '  option redispatch',
    '  retries 3',
    `  timeout connect ${m.timeouts.connectSeconds}s`,
    `  timeout client ${m.timeouts.clientSeconds}s`,
    `  timeout server ${m.timeouts.serverSeconds}s`,
    '  timeout http-request 10s',
    '  timeout http-keep-alive 10s',
    `  timeout check ${hc.timeoutSeconds}s`,
    '',
    'frontend public',
    `  bind :${m.listenPort}`,
    '  default_backend app',
    '',
    // Statistics, Prometheus metrics and the container's own health: never on the public port.
    'frontend stats',
    `  bind :${m.statsPort}`,
    '  option dontlog-normal',
    '  monitor-uri /healthz',
    '  http-request use-service prometheus-exporter if { path /metrics }',
    '  stats enable',
    '  stats uri /stats',
    '  stats refresh 10s',
    '  stats hide-version',
    '',
    'backend app',
    '  balance roundrobin',
    '  option httpchk',
    `  http-check send meth GET uri ${hc.path} ver HTTP/1.1 hdr Host localhost`,
    `  http-check expect status ${hc.expectStatus}`,
    `  default-server check inter ${hc.intervalSeconds}s fall ${hc.fall} rise ${hc.rise} resolvers docker init-addr last,libc,none resolve-prefer ipv4`,
    ...m.servers.map((s) => `  server ${s.name} ${s.host}:${s.port}`),
  ];
  return lines.join('\n') + '\n';
}
