import { describe, expect, it } from 'vitest';
import { NginxModel, renderNginxConfig } from '../../src';
import { localGet, run, start, tempFile } from './real-programs';

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

describe('renderNginxConfig, checked by nginx -t', { tags: ['nginx'] }, () => {
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

describe('renderNginxConfig, run by real nginx', { tags: ['nginx'] }, () => {
  it('serves stub_status only on the status listener, bound by name', async () => {
    // "localhost" stands in for the management network alias: nginx resolves it at start.
    // The app is an address where nothing listens, so the public port answers 502 at once.
    const conf = renderNginxConfig({ ...model, listenPort: 18480, statusListen: 'localhost:18413', staticRoot: undefined, appHost: '127.0.0.1', appPort: 18499 });
    const nginx = start('nginx', ['-g', 'daemon off;', '-c', tempFile('nginx.conf', conf)], { stdoutToNull: true });
    try {
      let r = { status: '', body: '' };
      await nginx.until('the status listener answers', async () => (r = await localGet(18413, '/stub_status')).status === '200');
      expect(r.body).toMatch(/^Active connections: \d+/);
      expect((await localGet(18413, '/')).status).toBe('404');
      // The public port proxies /stub_status to the app like any other path.
      expect((await localGet(18480, '/stub_status')).status).toBe('502');
    } finally {
      await nginx.stop();
    }
  });
});
