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

/** HTTPS on the public frontend (Mozilla "intermediate": TLS 1.2/1.3, ECDHE AEAD suites). */
export interface HaproxyTls {
  /** Certificate chain followed by the private key, in one PEM file. */
  readonly pemPath: string;
  /** Port the HTTPS frontend binds inside the container. */
  readonly listenPort: number;
  /** The HTTPS port clients use (published), for the redirect's Location. */
  readonly publicPort: number;
}

/** What HAProxy does about a failing server, besides the active checks. */
export interface HaproxyFailureHandling {
  /** Attempts after a failed one, each on another server (redispatch). */
  readonly retries: number;
  /** Layer-7 errors on live traffic that take a server out before the checks would; 0: off. */
  readonly errorLimit: number;
  /** A returning server's share of traffic ramps up over this many seconds; 0: at once. */
  readonly slowStartSeconds: number;
}

/** Who may tell HAProxy who the client is, and how: everyone else's forwarding headers are dropped. */
export interface HaproxyForwarding {
  /** Source CIDRs whose PROXY protocol header (v1 or v2) is read: a TCP balancer in front. Empty: none. */
  readonly proxyProtocolFrom: readonly string[];
  /** Source CIDRs of an HTTP proxy in front whose X-Forwarded-For, -Proto, -Host and X-Request-ID are kept. Empty: none. */
  readonly trustForwardedHeadersFrom: readonly string[];
}

/** The request headers HAProxy sets for the servers; a client's own are dropped (unless from a trusted proxy). */
export const FORWARDED_HEADERS = ['X-Forwarded-For', 'X-Forwarded-Proto', 'X-Forwarded-Host', 'X-Request-ID'] as const;

export interface HaproxyModel {
  /** Port the public (HTTP) frontend binds inside the container. */
  readonly listenPort: number;
  /** HTTPS; undefined serves plain HTTP only. */
  readonly tls: HaproxyTls | undefined;
  /** Unprivileged user HAProxy drops to after reading its certificate as root. */
  readonly runAsUser: string | undefined;
  /** Port of the statistics, metrics and health frontend (never published). */
  readonly statsPort: number;
  /**
   * Addresses the statistics frontend binds, e.g. 127.0.0.1 for the container's own healthcheck
   * and a network alias that only the management network resolves (HAProxy resolves it at start).
   */
  readonly statsBindAddresses: readonly string[];
  /** Source CIDRs allowed on the public ports; others are refused on connect. Empty: all. */
  readonly allowFrom: readonly string[];
  readonly healthCheck: HaproxyHealthCheck;
  readonly failureHandling: HaproxyFailureHandling;
  readonly servers: readonly HaproxyServer[];
  readonly forwarding: HaproxyForwarding;
  /** tunnelSeconds: idle timeout of an upgraded connection (websocket), in place of client/server. */
  readonly timeouts: { readonly connectSeconds: number; readonly clientSeconds: number; readonly serverSeconds: number; readonly tunnelSeconds: number };
  /** DNS server that resolves backend names; Docker's embedded DNS on user-defined networks. */
  readonly resolver: string;
  readonly maxConnections: number;
}

/** Renders haproxy.cfg. Pure: same model, same text. */
export function renderHaproxyConfig(m: HaproxyModel): string {
  const hc = m.healthCheck;
  const fh = m.failureHandling;
  const lines = [
    'global',
    '  log stdout format raw local0 info',
    `  maxconn ${m.maxConnections}`,
    // Graceful stop (SIGUSR1) and reloads must not hang forever on long-lived connections.
    '  hard-stop-after 30s',
    '  stats socket /tmp/haproxy.sock mode 600 level admin',
    ...(m.runAsUser ? [`  user ${m.runAsUser}`, `  group ${m.runAsUser}`] : []),
    ...(m.tls ? TLS_GLOBALS : []),
    '',
    // Backends are container names: re-resolve them so a replaced container is found again.
    'resolvers docker',
    `  nameserver docker ${m.resolver}`,
    '  resolve_retries 3',
    '  timeout resolve 1s',
    '  timeout retry 1s',
    '  hold valid 5s',
    '  hold nx 5s',
    // A container that left is dropped from its slot before the checks would mark it down.
    '  hold obsolete 5s',
    '',
    'defaults',
    '  mode http',
    '  log global',
    `  log-format '${ACCESS_LOG_FORMAT}'`,
    '  option dontlognull',
    '  option forwardfor',
    // A failed attempt is retried on the other server: connection errors, and for idempotent
    // requests also empty responses, timeouts and 502/503/504 (a POST is never replayed).
    '  option redispatch 1',
    `  retries ${fh.retries}`,
    '  retry-on conn-failure empty-response response-timeout 502 503 504',
    `  timeout connect ${m.timeouts.connectSeconds}s`,
    `  timeout client ${m.timeouts.clientSeconds}s`,
    `  timeout server ${m.timeouts.serverSeconds}s`,
    `  timeout tunnel ${m.timeouts.tunnelSeconds}s`,
    '  timeout http-request 10s',
    '  timeout http-keep-alive 10s',
    `  timeout check ${hc.timeoutSeconds}s`,
    '',
    'frontend public',
    `  bind :${m.listenPort}`,
    // A TCP balancer in front declares the client; until its header is read, src is the balancer.
    ...(m.forwarding.proxyProtocolFrom.length ? [`  tcp-request connection expect-proxy layer4 if { src ${m.forwarding.proxyProtocolFrom.join(' ')} }`] : []),
    // Before anything else, so a refused client costs one accept and no TLS handshake.
    ...(m.allowFrom.length ? [`  tcp-request connection reject unless { src ${m.allowFrom.join(' ')} }`] : []),
    ...(m.tls ? tlsFrontend(m.tls) : []),
    ...forwardingRules(m.forwarding, m.tls !== undefined),
    '  default_backend app',
    '',
    // Statistics, Prometheus metrics and the container's own health: never on the public port.
    'frontend stats',
    ...m.statsBindAddresses.map((a) => `  bind ${a}:${m.statsPort}`),
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
    '  http-request disable-l7-retry unless METH_GET || METH_HEAD || METH_OPTIONS',
    '  option httpchk',
    `  http-check send meth GET uri ${hc.path} ver HTTP/1.1 hdr Host localhost`,
    `  http-check expect status ${hc.expectStatus}`,
    // Passive checks too: layer-7 errors seen on live traffic take a server out before the
    // active checks would; a server that comes back gets traffic gradually.
    `  default-server check inter ${hc.intervalSeconds}s fall ${hc.fall} rise ${hc.rise}${fh.errorLimit ? ` observe layer7 error-limit ${fh.errorLimit} on-error mark-down` : ''}${fh.slowStartSeconds ? ` slowstart ${fh.slowStartSeconds}s` : ''} resolvers docker init-addr last,libc,none resolve-prefer ipv4`,
    // Two slots per DNS name: during a rolling replacement the name resolves to the old and the
    // new container, and both serve until the old one is gone (slots "<name>.1", "<name>.2").
    ...m.servers.map((s) => `  server-template ${s.name}. 2 ${s.host}:${s.port}`),
  ];
  return lines.join('\n') + '\n';
}

/**
 * One JSON object per request (HAProxy 2.6+; `#22` stands for a quote in the URI). client: who
 * the client is (see forwardingRules); peer: the connection's source; times in ms, -1 when the
 * step was not reached; retries: attempts after the first ("+1": the request went to another
 * server); termination: HAProxy's two-letter session state ("--" when all went well).
 */
export const ACCESS_LOG_FORMAT =
  '{"time":"%[date,utime(%Y-%m-%dT%H:%M:%SZ)]","source":"haproxy","request_id":"%[var(txn.request_id)]","client":"%[var(txn.client)]","peer":"%ci",' +
  '"method":"%HM","uri":"%{+E}HU","status":%ST,"bytes":%B,"server":"%s","queue_ms":%Tw,"connect_ms":%Tc,"response_ms":%Tr,"total_ms":%Ta,"retries":"%rc","termination":"%ts"}';

/**
 * The headers the servers get: a client's own forwarding headers are dropped (kept only from a
 * trusted proxy), then X-Forwarded-Proto, -Host and X-Request-ID (a UUID) are set unless a
 * trusted proxy sent them, X-Real-IP is the client, and `option forwardfor` appends the
 * connection's source to X-Forwarded-For.
 */
function forwardingRules(f: HaproxyForwarding, tls: boolean): string[] {
  const trusted = f.trustForwardedHeadersFrom.length > 0;
  const unlessTrusted = trusted ? ' unless from_trusted_proxy' : '';
  return [
    ...(trusted ? [`  acl from_trusted_proxy src ${f.trustForwardedHeadersFrom.join(' ')}`] : []),
    ...FORWARDED_HEADERS.map((h) => `  http-request del-header ${h}${unlessTrusted}`),
    // Never taken from a client: HAProxy sets X-Real-IP, and nothing here speaks RFC 7239.
    '  http-request del-header X-Real-IP',
    '  http-request del-header Forwarded',
    ...(tls
      ? [
          '  http-request set-header X-Forwarded-Proto https if { ssl_fc } !{ req.hdr(x-forwarded-proto) -m found }',
          '  http-request set-header X-Forwarded-Proto http if !{ ssl_fc } !{ req.hdr(x-forwarded-proto) -m found }',
        ]
      : ['  http-request set-header X-Forwarded-Proto http unless { req.hdr(x-forwarded-proto) -m found }']),
    '  http-request set-header X-Forwarded-Host %[req.hdr(host)] if { req.hdr(host) -m found } !{ req.hdr(x-forwarded-host) -m found }',
    '  http-request set-header X-Request-ID %[uuid(4)] unless { req.hdr(x-request-id) -m found }',
    '  http-request set-var(txn.request_id) req.hdr(x-request-id)',
    '  http-request set-var(txn.client) src',
    // Behind a trusted proxy, the client is the address it appended last.
    ...(trusted ? ['  http-request set-var(txn.client) req.hdr_ip(x-forwarded-for,-1) if from_trusted_proxy { req.hdr(x-forwarded-for) -m found }'] : []),
    '  http-request set-header X-Real-IP %[var(txn.client)]',
  ];
}

// Mozilla "intermediate" (guidelines 5.x): TLS 1.2 and 1.3, the six ECDHE AEAD suites, no tickets.
const TLS_GLOBALS = [
  '  ssl-default-bind-curves X25519:prime256v1:secp384r1',
  '  ssl-default-bind-ciphers ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384:ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305',
  '  ssl-default-bind-ciphersuites TLS_AES_128_GCM_SHA256:TLS_AES_256_GCM_SHA384:TLS_CHACHA20_POLY1305_SHA256',
  '  ssl-default-bind-options prefer-client-ciphers ssl-min-ver TLSv1.2 no-tls-tickets',
];

function tlsFrontend(tls: HaproxyTls): string[] {
  // Keep the host the client used; name the HTTPS port unless it is the default one.
  const port = tls.publicPort === 443 ? '' : `:${tls.publicPort}`;
  return [
    `  bind :${tls.listenPort} ssl crt ${tls.pemPath} alpn h2,http/1.1`,
    `  http-request redirect location https://%[req.hdr(host),field(1,:)]${port}%[capture.req.uri] code 308 unless { ssl_fc }`,
    '  http-response set-header Strict-Transport-Security "max-age=63072000; includeSubDomains" if { ssl_fc }',
  ];
}
