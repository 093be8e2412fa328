import { describe, expect, it } from 'vitest';
import { NginxModel, renderNginxConfig } from '../../src';
import { run, tempFile } from './real-programs';

const model: NginxModel = {
  listenPort: 80,
  staticRoot: '/srv/static',
  appHost: 'web-server-1-app',
  appPort: 3000,
  resolver: '127.0.0.11',
  clientMaxBodySize: '10m',
  proxyReadTimeoutSeconds: 60,
};

function check(conf: string) {
  const r = run('nginx', ['-t', '-q', '-c', tempFile('nginx.conf', conf)], { stdoutToNull: true });
  return { status: r.status, output: r.stderr };
}

describe('renderNginxConfig, checked by nginx -t', () => {
  it('with static files: nginx accepts it', () => {
    const r = check(renderNginxConfig(model));
    expect(r.output).toBe('');
    expect(r.status).toBe(0);
  });

  it('without static files: nginx accepts it and proxies everything', () => {
    const conf = renderNginxConfig({ ...model, staticRoot: undefined });
    expect(conf).not.toContain('try_files');
    const r = check(conf);
    expect(r.output).toBe('');
    expect(r.status).toBe(0);
  });

  it('is a check that can fail: nginx rejects a broken config', () => {
    expect(check(renderNginxConfig(model).replace('try_files $uri @app;', 'try_files;')).status).not.toBe(0);
  });
});
