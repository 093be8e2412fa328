/** blackbox_exporter's module for the public HTTPS endpoint. */
export const HTTPS_PROBE_MODULE = 'https_2xx';

export interface BlackboxModel {
  /** A CA file that verifies the load balancer's certificate; undefined skips verification. */
  readonly caFile: string | undefined;
  /** The name the certificate is checked against. */
  readonly serverName: string;
  readonly timeoutSeconds: number;
}

/**
 * Renders blackbox.yml: one module that GETs the URL over TLS and expects a 2xx. The
 * certificate's expiry is measured either way (probe_ssl_earliest_cert_expiry).
 */
export function renderBlackboxConfig(m: BlackboxModel): string {
  const tls = m.caFile ? [`        ca_file: ${m.caFile}`, `        server_name: ${m.serverName}`] : ['        insecure_skip_verify: true'];
  return [
    'modules:',
    `  ${HTTPS_PROBE_MODULE}:`,
    '    prober: http',
    `    timeout: ${m.timeoutSeconds}s`,
    '    http:',
    '      method: GET',
    '      fail_if_not_ssl: true',
    '      preferred_ip_protocol: ip4',
    '      tls_config:',
    ...tls,
    '',
  ].join('\n');
}
