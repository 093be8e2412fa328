export interface NginxModel {
  readonly listenPort: number;
  /** Where the codebase's static files are inside the Nginx container; undefined = none. */
  readonly staticRoot: string | undefined;
  /** The app container, by its Docker DNS name. */
  readonly appHost: string;
  readonly appPort: number;
  readonly resolver: string;
  readonly clientMaxBodySize: string;
  readonly proxyReadTimeoutSeconds: number;
  /**
   * Where `stub_status` listens (for the Prometheus exporter), e.g. a network alias that only the
   * management network resolves (nginx resolves it at start). undefined: no status endpoint.
   */
  readonly statusListen?: string;
}

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
    '      proxy_set_header Connection "";',
    '      proxy_set_header Host $host;',
    '      proxy_set_header X-Real-IP $remote_addr;',
    '      proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;',
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
    '  access_log /dev/stdout combined;',
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
