import { describe, expect, it } from 'vitest';
import { renderBlackboxConfig } from '../../src/monitoring/render/blackbox';
import { run, tempFile } from './real-programs';

/** blackbox_exporter --config.check: Debian names the binary prometheus-blackbox-exporter. */
function check(yml: string) {
  const r = run('prometheus-blackbox-exporter', ['--config.check', `--config.file=${tempFile('blackbox.yml', yml)}`]);
  return { status: r.status, output: r.stdout + r.stderr };
}

describe('renderBlackboxConfig, checked by blackbox_exporter --config.check', { tags: ['blackbox_exporter'] }, () => {
  it('accepts the HTTPS module, verifying against a CA file or not', () => {
    for (const caFile of [undefined, '/etc/dws/ca.pem']) {
      const r = check(renderBlackboxConfig({ caFile, serverName: 'localhost', timeoutSeconds: 5 }));
      expect(r.status, r.output).toBe(0);
      expect(r.output).toMatch(/Config file is ok/);
    }
  });

  it('is a check that can fail: an unknown setting is rejected', () => {
    const r = check(renderBlackboxConfig({ caFile: undefined, serverName: 'localhost', timeoutSeconds: 5 }).replace('fail_if_not_ssl', 'fail_if_not_tls'));
    expect(r.status).not.toBe(0);
  });
});
