export interface NginxModel {
  readonly listenPort: number;
  /** Where the codebase's static files are inside the Nginx container; undefined = none. */
  readonly staticRoot: string | undefined;
  /** The app container, by its Docker DNS name. */
  readonly appHost: string;
  readonly appPort: number;
  readonly resolver: string;
  readonly clientMaxBodySize: string;
  /** Also the longest an upgraded connection (websocket) or a response stream may stay idle. */
  readonly proxyReadTimeoutSeconds: number;
  /**
   * Where the load balancer connects from (a CIDR, e.g. the app network's subnet): only from
   * there is its X-Real-IP taken as the client's address.
   */
  readonly trustedProxies: string;
  /** Where the JSON access log goes. @default "/dev/stdout" */
  readonly accessLog?: string;
  /**
   * Where `stub_status` listens (for the Prometheus exporter), e.g. a network alias that only the
   * management network resolves (nginx resolves it at start). undefined: no status endpoint.
   */
  readonly statusListen?: string;
}

/**
 * One JSON object per request, in the load balancer's field names where they mean the same:
 * client is who the client is (from X-Real-IP), peer the connection's source (the load balancer);
 * times in seconds ("" when no upstream was asked).
 */
export const ACCESS_LOG_FORMAT =
  '{"time":"$time_iso8601","source":"nginx","request_id":"$http_x_request_id","client":"$remote_addr","peer":"$realip_remote_addr",' +
  '"method":"$request_method","uri":"$request_uri","status":$status,"bytes":$body_bytes_sent,"total_s":$request_time,' +
  '"upstream_connect_s":"$upstream_connect_time","upstream_response_s":"$upstream_response_time"}';

/** The path of nginx's status page (on statusListen). */
export const NGINX_STATUS_PATH = '/stub_status';

/**
 * Renders nginx.conf. It depends on nothing the image ships but `mime.types`: pid and temp
 * paths live under /tmp so the same file works on the official image and on Debian's nginx.
 */
export function renderNginxConfig(m: NginxModel): string {
  const proxyLines = [
    `      set $app_upstream http://${m.appHost}:${m.appPort};`,
    '      proxy_pass $app_upstream;',
    '      proxy_http_version 1.1;',
    // Websockets pass through (Upgrade); every other request keeps the connection reusable.
    '      proxy_set_header Upgrade $http_upgrade;',
    '      proxy_set_header Connection $dws_connection;',
    // The host as the client wrote it, port included; X-Forwarded-Proto, -Host and X-Request-ID
    // come from the load balancer and pass as they are.
    '      proxy_set_header Host $http_host;',
    '      proxy_set_header X-Real-IP $remote_addr;',
    '      proxy_set_header X-Forwarded-For $dws_forwarded_for;',
    // On one Docker host a connect takes well under a millisecond; a stopped app's stale
    // address never answers, so fail fast and let the load balancer retry elsewhere.
    '      proxy_connect_timeout 1s;',
    `      proxy_read_timeout ${m.proxyReadTimeoutSeconds}s;`,
  ];
  // Static files first when there are any; everything else goes to the app.
  const locations = m.staticRoot
    ? [`    root ${m.staticRoot};`, '    location / {', '      try_files $uri @app;', '    }', '    location @app {', ...proxyLines, '    }']
    : ['    location / {', ...proxyLines, '    }'];
  return [
    'worker_processes auto;',
    'pid /tmp/nginx.pid;',
    'error_log stderr warn;',
    '',
    'events {',
    '  worker_connections 1024;',
    '}',
    '',
    'http {',
    '  include /etc/nginx/mime.types;',
    '  default_type application/octet-stream;',
    `  log_format dws_json escape=json '${ACCESS_LOG_FORMAT}';`,
    `  access_log ${m.accessLog ?? '/dev/stdout'} dws_json;`,
    '  server_tokens off;',
    '  sendfile on;',
    '  keepalive_timeout 65s;',
    `  client_max_body_size ${m.clientMaxBodySize};`,
    '  client_body_temp_path /tmp/nginx-client-body;',
    '  proxy_temp_path /tmp/nginx-proxy;',
    '  fastcgi_temp_path /tmp/nginx-fastcgi;',
    '  uwsgi_temp_path /tmp/nginx-uwsgi;',
    '  scgi_temp_path /tmp/nginx-scgi;',
    // A variable in proxy_pass makes nginx resolve the app's name per request (with this
    // resolver), so a replaced app container is found again without restarting nginx.
    `  resolver ${m.resolver} valid=2s ipv6=off;`,
    // The client's address, from the load balancer only; $realip_remote_addr stays the balancer.
    `  set_real_ip_from ${m.trustedProxies};`,
    '  real_ip_header X-Real-IP;',
    '  map $http_upgrade $dws_connection {',
    '    default upgrade;',
    "    '' '';",
    '  }',
    '  map $http_x_forwarded_for $dws_forwarded_for {',
    "    '' $realip_remote_addr;",
    '    default "$http_x_forwarded_for, $realip_remote_addr";',
    '  }',
    '',
    '  server {',
    `    listen ${m.listenPort};`,
    ...locations,
    '  }',
    ...(m.statusListen
      ? ['', '  server {', `    listen ${m.statusListen};`, '    access_log off;', `    location = ${NGINX_STATUS_PATH} {`, '      stub_status;', '    }', '    location / {', '      return 404;', '    }', '  }']
      : []),
    '}',
    '',
  ].join('\n');
}
