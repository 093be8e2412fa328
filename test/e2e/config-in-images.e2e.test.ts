import { describe, expect, it } from 'vitest';
import { renderMyCnf } from '../../src/database/render/mysql';
import { images, sh } from './harness';

// The MySQL server itself checks the option files we render (Debian 12 has no MySQL server, so
// this runs in the testbed's MySQL image rather than on the host).
describe('mysqld --validate-config on the rendered my.cnf', () => {
  it.each(['primary', 'replica'] as const)('%s', (role) => {
    const cnf = renderMyCnf({ engine: 'mysql', role, serverId: role === 'primary' ? 1 : 2, port: 3306, semiSyncTimeoutMs: 10000 });
    expect(cnf).toContain('plugin_load_add = semisync_source.so');
    const r = sh('docker', ['run', '--rm', '-i', '--entrypoint', 'bash', images().mysql, '-c', 'cat > /tmp/my.cnf && mysqld --defaults-file=/tmp/my.cnf --validate-config'], {
      input: cnf,
      allowFail: true,
    });
    expect(r.err).not.toMatch(/\[ERROR\]/);
    expect(r.status).toBe(0);
  });

  it('is a check that can fail: an unknown option is rejected', () => {
    const cnf = renderMyCnf({ engine: 'mysql', role: 'primary', serverId: 1, port: 3306, extraSettings: { no_such_option: 1 } });
    const r = sh('docker', ['run', '--rm', '-i', '--entrypoint', 'bash', images().mysql, '-c', 'cat > /tmp/my.cnf && mysqld --defaults-file=/tmp/my.cnf --validate-config'], {
      input: cnf,
      allowFail: true,
    });
    expect(r.status).not.toBe(0);
    expect(r.err).toMatch(/unknown variable 'no_such_option=1'/);
  });
});
