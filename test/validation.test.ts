import { join } from 'node:path';
import { Testing, TerraformStack } from 'cdktf';
import { describe, expect, it } from 'vitest';
import { AppServerPair, DatabaseBackup, DistributedWebStack, LoadBalancer, Monitoring, MySqlPrimaryReplica, ValidationError } from '../src';
import { synthStack, testNetwork } from './helpers';

const APP_DIR = join(__dirname, '..', 'examples', 'app');
const stack = () => new TerraformStack(Testing.app(), 'test');

/** The test's network (one per stack, so a retry in the same stack finds it). */
const sharedNet = (s: TerraformStack) => (s.node.tryFindChild('net') as ReturnType<typeof testNetwork> | undefined) ?? testNetwork(s, 'net');

/**
 * Creates with bad props; returns the error message and checks nothing was left in the tree and,
 * with `retry`, that good props then work under the same id.
 */
function errorOf(create: (s: TerraformStack) => void, retry?: (s: TerraformStack) => void): string {
  const s = stack();
  const before = s.node.children.length;
  let message = '';
  try {
    create(s);
  } catch (e) {
    expect(e).toBeInstanceOf(ValidationError);
    message = (e as Error).message;
  }
  expect(message).not.toBe('');
  // Nothing half-made: the failed construct is not in the tree (networks made by the test are).
  expect(s.node.children.filter((c) => !c.node.id.startsWith('net')).length).toBe(before);
  if (retry) {
    retry(s);
    expect(() => Testing.synth(s)).not.toThrow();
  }
  return message;
}

describe('LoadBalancer validation', () => {
  const lb = (props: Record<string, unknown>) => (s: TerraformStack) =>
    new LoadBalancer(s, 'lb', { networks: [sharedNet(s)], targets: [{ loadBalancerServers: () => [{ name: 'a', host: 'a', port: 80 }] }], ...props } as any);

  it.each([
    [{ healthCheck: { intervalSeconds: 0 } }, 'test/lb: healthCheck.intervalSeconds must be an integer between 1 and 60 (got 0)'],
    [{ healthCheck: { intervalSeconds: 1.5 } }, 'test/lb: healthCheck.intervalSeconds must be an integer between 1 and 60 (got 1.5)'],
    [{ healthCheck: { fall: 11 } }, 'test/lb: healthCheck.fall must be an integer between 1 and 10 (got 11)'],
    [{ healthCheck: { rise: 0 } }, 'test/lb: healthCheck.rise must be an integer between 1 and 10 (got 0)'],
    [{ healthCheck: { timeoutSeconds: 61 } }, 'test/lb: healthCheck.timeoutSeconds must be an integer between 1 and 60 (got 61)'],
    [{ healthCheck: { expectStatus: 99 } }, 'test/lb: healthCheck.expectStatus must be an integer between 100 and 599 (got 99)'],
    [{ healthCheck: { path: 'healthz' } }, 'test/lb: healthCheck.path must be a URL path starting with "/", of letters, digits and ._~!$&()*+,;=:@%/?- only (no quote, space or "#") (got "healthz")'],
    // A quote would leave HAProxy's line unmatched (it does not start) or check another path.
    [{ healthCheck: { path: "/health'z" } }, 'test/lb: healthCheck.path must be a URL path starting with "/", of letters, digits and ._~!$&()*+,;=:@%/?- only (no quote, space or "#") (got "/health\'z")'],
    [{ tlsListenPort: 80 }, 'test/lb: tlsListenPort must differ from listenPort 80: HAProxy would bind the port twice and split its connections (got 80)'],
    [{ healthCheck: { pth: '/x' } }, 'test/lb: healthCheck.pth is not a known property (check the spelling)'],
    [{ publish: { address: '0.0.0' } }, 'test/lb: publish.address must be an IPv4 address such as "127.0.0.1" (got "0.0.0")'],
    [{ publish: { httpsPort: 70000 } }, 'test/lb: publish.httpsPort must be an integer between 1 and 65535 (got 70000)'],
    [{ publish: { httpPort: 8443 } }, 'test/lb: publish.httpsPort must differ from publish.httpPort 8443 (got 8443)'],
    [{ publish: { port: 80 } }, 'test/lb: publish.port is not a known property (check the spelling)'],
    [{ tls: true }, 'test/lb: tls must be false, { certificatePem, privateKeyPem } or { selfSigned: {...} } (got true)'],
    [{ tls: { selfSigned: { validityDays: 400 } } }, 'test/lb: tls.selfSigned.validityDays must be an integer between 1 and 398 (got 400)'],
    [{ tlsListenPort: 8404 }, 'test/lb: statsPort must differ from listenPort 80 and tlsListenPort 8404 (got 8404)'],
    [{ listenPort: 0 }, 'test/lb: listenPort must be an integer between 1 and 65535 (got 0)'],
    [{ statsPort: 80 }, 'test/lb: statsPort must differ from listenPort 80 and tlsListenPort 443 (got 80)'],
    [{ timeouts: { connectSeconds: 0 } }, 'test/lb: timeouts.connectSeconds must be an integer between 1 and 300 (got 0)'],
    [{ maxConnections: -1 }, 'test/lb: maxConnections must be an integer between 1 and 1000000 (got -1)'],
    [{ image: 'bad image' }, 'test/lb: image must be an image reference such as "haproxy:3.0" or "registry.example.com/team/haproxy:3.0" (got "bad image")'],
    [{ namePrefix: '-web' }, `test/lb: namePrefix must be lowercase letters, digits and "-" (not first or last), at most 30 characters (image names must be lowercase; the longest name made from it, "<prefix>-server-1-nginx-<12 hex>-mgmt", must fit a 63-character DNS label) (got "-web")`],
    [{ namePrefix: 'MyShop' }, `test/lb: namePrefix must be lowercase letters, digits and "-" (not first or last), at most 30 characters (image names must be lowercase; the longest name made from it, "<prefix>-server-1-nginx-<12 hex>-mgmt", must fit a 63-character DNS label) (got "MyShop")`],
    [{ namePrefix: 'shop.' }, `test/lb: namePrefix must be lowercase letters, digits and "-" (not first or last), at most 30 characters (image names must be lowercase; the longest name made from it, "<prefix>-server-1-nginx-<12 hex>-mgmt", must fit a 63-character DNS label) (got "shop.")`],
    [{ namePrefix: 'a'.repeat(31) }, `test/lb: namePrefix must be lowercase letters, digits and "-" (not first or last), at most 30 characters (image names must be lowercase; the longest name made from it, "<prefix>-server-1-nginx-<12 hex>-mgmt", must fit a 63-character DNS label) (got "${'a'.repeat(31)}")`],
    [{ networks: [] }, 'test/lb: networks must hold at least one network (got [])'],
    [{ publicPort: 80 }, 'test/lb: publicPort is not a known property (check the spelling)'],
    [
      { targets: [{ loadBalancerServers: () => [{ name: 'a', host: 'a', port: 80 }, { name: 'a', host: 'b', port: 80 }] }] },
      'test/lb: server.name must be unique in the backend (got "a" twice)',
    ],
    [{ targets: [{ loadBalancerServers: () => [{ name: 'a', host: 'bad host', port: 80 }] }] }, 'test/lb: server.host must be a Docker DNS name such as "web-server-1-nginx" (got "bad host")'],
    [{ targets: [{ loadBalancerServers: () => [{ name: 'a', host: 'a', port: 0 }] }] }, 'test/lb: server.port must be an integer between 1 and 65535 (got 0)'],
  ])('%j → %s', (props, message) => {
    expect(errorOf(lb(props), lb({}))).toBe(message);
  });
});

describe('AppServerPair validation', () => {
  const pair = (props: Record<string, unknown>) => (s: TerraformStack) =>
    new AppServerPair(s, 'app', { codebase: { image: 'shop:1' }, network: sharedNet(s), ...props } as any);

  it.each([
    [{ codebase: { directory: '/does/not/exist' } }, 'test/app: codebase.directory must be an existing directory (got "/does/not/exist")'],
    [{ codebase: { directory: APP_DIR, dockerfile: 'Nope.Dockerfile' } }, `test/app: codebase.dockerfile must be a file inside codebase.directory ${JSON.stringify(APP_DIR)} (got "Nope.Dockerfile")`],
    [{ codebase: { directory: APP_DIR, dockerfile: '../basic/main.ts' } }, `test/app: codebase.dockerfile must be a file inside codebase.directory ${JSON.stringify(APP_DIR)} (got "../basic/main.ts")`],
    [{ codebase: { directory: APP_DIR, dockerfile: '.' } }, `test/app: codebase.dockerfile must be a file inside codebase.directory ${JSON.stringify(APP_DIR)} (got ".")`],
    [{ codebase: {} }, 'test/app: codebase must be { image: "..." } or { directory: "..." } (got {})'],
    [{ codebase: { image: 'shop:1', dir: 'x' } }, 'test/app: codebase.dir is not a known property (check the spelling)'],
    [{ codebase: { image: 'shop:1', staticPath: 'public' } }, 'test/app: codebase.staticPath must be an absolute path in the image, or false (got "public")'],
    [{ codebase: { directory: APP_DIR, buildArgs: { A: 1 } } }, 'test/app: codebase.buildArgs.A must be a string (got 1)'],
    [{ appPort: 0 }, 'test/app: appPort must be an integer between 1 and 65535 (got 0)'],
    [{ environment: { 'BAD-NAME': 'x' } }, 'test/app: environment key must be an environment variable name such as "LOG_LEVEL" (got "BAD-NAME")'],
    [{ environment: { DB_WRITE_HOST: 'x' } }, 'test/app: environment.DB_WRITE_HOST is set by the library (reserved: PORT, SERVER_NAME, DB_WRITE_HOST, DB_READ_HOST, DB_PORT, DB_READ_PORT, DB_NAME, DB_USER, DB_PASSWORD_FILE, DB_TLS_CA_FILE)'],
    [{ clientMaxBodySize: '10 MB' }, 'test/app: clientMaxBodySize must be a size such as "10m" (got "10 MB")'],
    [{ proxyReadTimeoutSeconds: 0 }, 'test/app: proxyReadTimeoutSeconds must be an integer between 1 and 3600 (got 0)'],
    [{ healthCheckPath: 'x' }, 'test/app: healthCheckPath must be a URL path starting with "/" (got "x")'],
    [{ appHealthCheck: [] }, 'test/app: appHealthCheck must be a Docker healthcheck test such as ["CMD", "curl", "-f", "http://127.0.0.1:3000/"] (got [])'],
    [{ network: undefined }, 'test/app: network is required: a docker network construct (network.Network of @cdktf/provider-docker), the one the load balancer reaches (got undefined)'],
  ])('%j → %s', (props, message) => {
    expect(errorOf(pair(props), pair({}))).toBe(message);
  });

  it('addEnvironment rejects a bad name', () => {
    const s = stack();
    const p = pair({})(s);
    expect(() => p.addEnvironment('1X', 'y')).toThrow('test/app: environment name must be an environment variable name such as "LOG_LEVEL" (got "1X")');
  });
});

describe('MySqlPrimaryReplica validation', () => {
  const db = (props: Record<string, unknown>) => (s: TerraformStack) =>
    new MySqlPrimaryReplica(s, 'db', { network: sharedNet(s), ...props } as any);

  it.each([
    [{ engine: 'postgres' }, 'test/db: engine must be "mysql" or "mariadb" (got "postgres")'],
    [{ databaseName: 'my-app' }, 'test/db: databaseName must start with a letter or "_" and contain only letters, digits and "_" (at most 32 characters) (got "my-app")'],
    [{ appUser: "x'; DROP" }, 'test/db: appUser must start with a letter or "_" and contain only letters, digits and "_" (at most 32 characters) (got "x\'; DROP")'],
    [{ replicationUser: '' }, 'test/db: replicationUser must start with a letter or "_" and contain only letters, digits and "_" (at most 32 characters) (got "")'],
    [{ port: 99999 }, 'test/db: port must be an integer between 1 and 65534 (got 99999)'],
    // The reader endpoint listens on port + 1.
    [{ port: 65535 }, 'test/db: port must be an integer between 1 and 65534 (got 65535)'],
    // The app account would get data privileges on the grant tables.
    [{ databaseName: 'mysql' }, "test/db: databaseName must not be a system schema or the library's own (mysql, information_schema, performance_schema, sys, dws) (got \"mysql\")"],
    [{ databaseName: 'INFORMATION_SCHEMA' }, "test/db: databaseName must not be a system schema or the library's own (mysql, information_schema, performance_schema, sys, dws) (got \"INFORMATION_SCHEMA\")"],
    [{ databaseName: 'dws' }, "test/db: databaseName must not be a system schema or the library's own (mysql, information_schema, performance_schema, sys, dws) (got \"dws\")"],
    [{ appUser: 'root' }, "test/db: appUser must not be a server's own account or one the library creates (root, mysql, mariadb, dws_failover, exporter, dws_backup) (got \"root\")"],
    [{ replicationUser: 'dws_failover' }, "test/db: replicationUser must not be a server's own account or one the library creates (root, mysql, mariadb, dws_failover, exporter, dws_backup) (got \"dws_failover\")"],
    [{ appUser: 'shop', replicationUser: 'Shop' }, 'test/db: replicationUser must differ from appUser: the accounts have different privileges (got "Shop")'],
    // What the guarantees rest on, however the option file would spell it.
    [{ settings: { read_only: 'OFF' } }, 'test/db: settings.read_only is an option the library\'s guarantees rest on (read_only: failover, fencing, durability or TLS); to override it anyway, set it in guardedSettingOverrides (got "OFF")'],
    [{ settings: { 'super-read-only': 0 } }, 'test/db: settings.super-read-only is an option the library\'s guarantees rest on (super_read_only: failover, fencing, durability or TLS); to override it anyway, set it in guardedSettingOverrides (got 0)'],
    [{ settings: { 'loose-server_id': 9 } }, 'test/db: settings.loose-server_id is an option the library\'s guarantees rest on (server_id: failover, fencing, durability or TLS); to override it anyway, set it in guardedSettingOverrides (got 9)'],
    [{ settings: { skip_log_bin: true } }, 'test/db: settings.skip_log_bin is an option the library\'s guarantees rest on (log_bin: failover, fencing, durability or TLS); to override it anyway, set it in guardedSettingOverrides (got true)'],
    [{ settings: { skip_grant_tables: true } }, 'test/db: settings.skip_grant_tables is an option the library\'s guarantees rest on (skip_grant_tables: failover, fencing, durability or TLS); to override it anyway, set it in guardedSettingOverrides (got true)'],
    [{ settings: { rpl_semi_sync_master_timeout: 1 } }, 'test/db: settings.rpl_semi_sync_master_timeout is an option the library\'s guarantees rest on (rpl_semi_sync_master_timeout: failover, fencing, durability or TLS); to override it anyway, set it in guardedSettingOverrides (got 1)'],
    [{ settings: { sync_bin: 0 } }, 'test/db: settings.sync_bin is an option the library\'s guarantees rest on (sync_binlog: failover, fencing, durability or TLS); to override it anyway, set it in guardedSettingOverrides (got 0)'],
    // Checked before anything is made: nothing is left in the tree.
    [{ semiSync: false, failover: { automatic: true } }, 'test/db: failover.automatic needs semiSync: without it the replica may lack acknowledged writes (got true with semiSync false)'],
    [{ serverIdBase: 0 }, 'test/db: serverIdBase must be an integer between 1 and 4294967294 (got 0)'],
    [{ settings: { max_connections: [1] } }, 'test/db: settings.max_connections must be a string, number or boolean (got [1])'],
    [{ settings: { 'Bad Key': 1 } }, 'test/db: settings key must be an option name such as "innodb_buffer_pool_size" (got "Bad Key")'],
    [{ settings: { init_connect: 'a\nb' } }, 'test/db: settings values must be on one line (got {"init_connect":"a\\nb"})'],
    [{ network: undefined }, 'test/db: network is required: a docker network construct (network.Network of @cdktf/provider-docker), the one both servers join (got undefined)'],
  ])('%j → %s', (props, message) => {
    expect(errorOf(db(props), db({}))).toBe(message);
  });
});

describe('DatabaseBackup validation', () => {
  const dbOf = (s: TerraformStack) => (s.node.tryFindChild('net-db') as MySqlPrimaryReplica | undefined) ?? new MySqlPrimaryReplica(s, 'net-db', { network: sharedNet(s) });
  const backup = (props: Record<string, unknown>) => (s: TerraformStack) => new DatabaseBackup(s, 'backup', { database: dbOf(s), ...props } as any);

  it.each([
    [{ intervalMinutes: 0 }, 'test/backup: intervalMinutes must be an integer between 5 and 10080 (got 0)'],
    [{ intervalMinutes: 2.5 }, 'test/backup: intervalMinutes must be an integer between 5 and 10080 (got 2.5)'],
    [{ retention: { daily: -1 } }, 'test/backup: retention.daily must be an integer between 0 and 366 (got -1)'],
    [{ retention: { monthly: 3 } }, 'test/backup: retention.monthly is not a known property (check the spelling)'],
    [{ encryptionKey: 'short' }, 'test/backup: encryptionKey must be at least 32 characters (got 5 characters)'],
    [{ encryptionKey: 42 }, 'test/backup: encryptionKey must be a string of at least 32 characters (or a Terraform reference) (got 42)'],
    [{ volumeName: 'my backups' }, 'test/backup: volumeName must start with a letter or digit and contain only letters, digits, "_", "." or "-" (at most 63 characters) (got "my backups")'],
    [{ memoryMb: 8 }, 'test/backup: memoryMb must be an integer between 64 and 1048576 (got 8)'],
    [{ database: {} }, 'test/backup: database must be a MySqlPrimaryReplica (got {})'],
    [{ schedule: 'daily' }, 'test/backup: schedule is not a known property (check the spelling)'],
  ])('%j → %s', (props, message) => {
    expect(errorOf(backup(props), backup({}))).toBe(message);
  });

  it('takes a key given as a token, and then generates none', async () => {
    const { TerraformVariable } = await import('cdktf');
    const { tf } = synthStack((s) => {
      const key = new TerraformVariable(s, 'backup_key', { type: 'string', sensitive: true });
      new DatabaseBackup(s, 'backup', { database: new MySqlPrimaryReplica(s, 'db', { network: testNetwork(s) }), encryptionKey: key.stringValue });
    });
    const c = Object.values<any>(tf.resource.docker_container).find((x) => x.name === 'test-db-backup');
    expect(c.upload.find((u: any) => u.file === '/etc/dws/secrets/backup-key')).toEqual(expect.objectContaining({ content: '${var.backup_key}', permissions: '0600' }));
    expect(Object.keys(tf.resource.random_password).filter((k) => k.includes('EncryptionKey'))).toEqual([]);
  });
});

describe('DistributedWebStack validation', () => {
  it('names the child construct and field, and leaves nothing behind', () => {
    const message = errorOf((s) => new DistributedWebStack(s, 'web', { codebase: { image: 'shop:1' }, loadBalancer: { healthCheck: { fall: 0 } } }));
    expect(message).toBe('test/web/LoadBalancer: healthCheck.fall must be an integer between 1 and 10 (got 0)');
  });

  it('rejects unknown image keys', () => {
    const message = errorOf((s) => new DistributedWebStack(s, 'web', { codebase: { image: 'shop:1' }, images: { mysql: 'x' } as any }));
    expect(message).toBe('test/web: images.mysql is not a known property (check the spelling)');
  });
});

describe('name prefixes', () => {
  // Containers' names and DNS aliases (image names are not DNS labels).
  const names = (tf: any): string[] =>
    Object.values<any>(tf.resource.docker_container).flatMap((c) => [c.name, ...(c.networks_advanced ?? []).flatMap((n: any) => n.aliases ?? [])]);
  // A generation is 6 hex at synth plus 6 from a Terraform expression: count that as 6.
  const length = (name: string) => name.replace(/\$\{[^}]*\}/g, 'xxxxxx').length;

  it('at the longest allowed (30 characters), every Docker name and DNS alias of the whole stack fits a DNS label', () => {
    const prefix = 'a'.repeat(30);
    const { tf } = synthStack((s) => new DistributedWebStack(s, 'web', { codebase: { image: 'shop:1' }, namePrefix: prefix }));
    const all = names(tf).filter((n) => n.startsWith(prefix));
    expect(all.length).toBeGreaterThan(30);
    expect(Math.max(...all.map(length))).toBe(63);
  });

  it('derives the default from the stack id, lowercased (image names must be lowercase)', () => {
    const s = new TerraformStack(Testing.app(), 'MyShop');
    new MySqlPrimaryReplica(s, 'db', { network: testNetwork(s) });
    const tf = JSON.parse(Testing.synth(s));
    expect(Object.values<any>(tf.resource.docker_container).map((c) => c.name).sort()).toEqual(['myshop-db-failover', 'myshop-db-primary', 'myshop-db-replica', 'myshop-db-router']);
  });

  it('refuses a stack id it cannot derive a prefix from, and says to set namePrefix', () => {
    const s = new TerraformStack(Testing.app(), '__');
    expect(() => new MySqlPrimaryReplica(s, 'db', { network: testNetwork(s) })).toThrow(/^__\/db: namePrefix must be lowercase .*; derived from the stack id "__" it would be "": set namePrefix \(got undefined\)$/);
    expect(s.node.tryFindChild('db')).toBeUndefined();
  });
});

describe('MySqlPrimaryReplica guarded settings', () => {
  it('takes other settings, and a guarded one only through guardedSettingOverrides, written after the library\'s own', () => {
    const { tf } = synthStack((s) =>
      new MySqlPrimaryReplica(s, 'db', { network: testNetwork(s), settings: { innodb_buffer_pool_size: '256M' }, guardedSettingOverrides: { sync_binlog: 0 } }),
    );
    const cnf = (Object.values<any>(tf.resource.docker_container).find((c) => c.name === 'test-db-primary').upload as any[]).find((u) => u.file.endsWith('.cnf')).content as string;
    const lines = cnf.split('\n');
    expect(lines).toContain('innodb_buffer_pool_size = 256M');
    // The option file's last word wins.
    expect(lines.lastIndexOf('sync_binlog = 0')).toBeGreaterThan(lines.indexOf('sync_binlog = 1'));
  });
});

describe('text that reaches Terraform', () => {
  const shadow = '${file("/etc/shadow")} %{ if true }x%{ endif }';
  const escaped = '$${file("/etc/shadow")} %%{ if true }x%%{ endif }';

  it('escapes Terraform template syntax in env values, build args and log options; references stay references', () => {
    const { tf } = synthStack((s) => {
      const web = new DistributedWebStack(s, 'web', {
        codebase: { directory: APP_DIR, buildArgs: { NOTE: shadow } },
        appServers: { environment: { NOTE: shadow } },
        logging: { driver: 'json-file', options: { tag: shadow } },
      });
      web.appServers.addEnvironment('DB_REF', `${web.database!.writerHost}:${web.database!.port}`);
    });
    const apps = Object.values<any>(tf.resource.docker_container).filter((c) => String(c.name).includes('-app-'));
    expect(apps).toHaveLength(2);
    for (const a of apps) expect(a.env).toContain(`NOTE=${escaped}`);
    const built = Object.values<any>(tf.resource.docker_image).find((i) => i.build?.build_args?.NOTE);
    expect(built.build.build_args.NOTE).toBe(escaped);
    for (const c of Object.values<any>(tf.resource.docker_container)) expect(c.log_opts).toEqual({ tag: escaped });
    // Not a literal "${": no Terraform expression is left that the user did not mean.
    expect(JSON.stringify(tf)).not.toContain(' ${file(');
  });

  it('keeps the tokens inside a string as references', async () => {
    const { terraformLiteral } = await import('../src/private/docker');
    const { Token } = await import('cdktf');
    const ref = Token.asString({ resolve: () => 'x' });
    expect(terraformLiteral(`a \${b} ${ref} %{c}`)).toBe(`a $\${b} ${ref} %%{c}`);
  });
});

describe('default providers', () => {
  it('uses a Docker provider declared after the constructs, and adds no second one', async () => {
    const { provider } = await import('@cdktf/provider-docker');
    const { tf } = synthStack((s) => {
      new DistributedWebStack(s, 'web', { codebase: { image: 'shop:1' } });
      new provider.DockerProvider(s, 'mine', { host: 'ssh://deploy@docker-host' });
    });
    expect(tf.provider!.docker).toEqual([{ host: 'ssh://deploy@docker-host' }]);
  });

  it('adds one default of each provider when the stack declares none, however many constructs need it', () => {
    const { tf } = synthStack((s) => {
      new MySqlPrimaryReplica(s, 'db1', { network: testNetwork(s, 'net1'), namePrefix: 'one', tls: true });
      new MySqlPrimaryReplica(s, 'db2', { network: testNetwork(s, 'net2'), namePrefix: 'two', tls: true });
    });
    expect(Object.fromEntries(Object.entries<any[]>(tf.provider!).map(([k, v]) => [k, v.length]))).toEqual({ docker: 1, random: 1, tls: 1 });
  });

  it('an aliased provider alone is not the default: the default is still added', async () => {
    const { provider } = await import('@cdktf/provider-docker');
    const { tf } = synthStack((s) => {
      new provider.DockerProvider(s, 'remote', { alias: 'remote', host: 'tcp://10.0.0.5:2376' });
      new MySqlPrimaryReplica(s, 'db', { network: testNetwork(s) });
    });
    expect(tf.provider!.docker).toEqual([{ alias: 'remote', host: 'tcp://10.0.0.5:2376' }, {}]);
  });
});

describe('Terraform tokens where a literal would do', () => {
  it('takes a variable for the load balancer image, publish.address and publish.httpsPort, and passes it to Terraform', async () => {
    const { TerraformVariable } = await import('cdktf');
    const { tf } = synthStack((s) => {
      const image = new TerraformVariable(s, 'lb_image', { type: 'string' });
      const address = new TerraformVariable(s, 'publish_address', { type: 'string' });
      const port = new TerraformVariable(s, 'https_port', { type: 'number' });
      const lb = new LoadBalancer(s, 'lb', { networks: [testNetwork(s)], image: image.stringValue, publish: { address: address.stringValue, httpsPort: port.numberValue } });
      lb.addServer({ name: 'a', host: 'a', port: 80 });
    });
    const c = Object.values<any>(tf.resource.docker_container).find((x) => x.name === 'test-lb');
    expect(c.ports).toEqual([
      { internal: 80, external: 8080, ip: '${var.publish_address}', protocol: 'tcp' },
      { internal: 443, external: '${var.https_port}', ip: '${var.publish_address}', protocol: 'tcp' },
    ]);
    expect(JSON.stringify(tf)).toContain('${var.lb_image}');
  });

  it('still checks a literal', () => {
    expect(errorOf((s) => new LoadBalancer(s, 'lb', { networks: [testNetwork(s, 'net')], publish: { address: 'localhost' } }))).toBe('test/lb: publish.address must be an IPv4 address such as "127.0.0.1" (got "localhost")');
  });

  it('takes a variable for a webhook URL, and has Terraform check it at plan', async () => {
    const { TerraformVariable } = await import('cdktf');
    const { tf } = synthStack((s) => {
      const url = new TerraformVariable(s, 'webhook', { type: 'string', sensitive: true });
      new Monitoring(s, 'mon', { managementNetwork: testNetwork(s), receivers: [{ webhook: { url: url.stringValue } }] });
    });
    const am = Object.values<any>(tf.resource.docker_container).find((x) => x.name === 'test-alertmanager');
    expect(am.upload[0].content).toContain("- url: '${var.webhook}'");
    // terraform plan with an ftp:// URL, or one with a quote, fails on it (tried by hand with the testbed's providers).
    expect(am.lifecycle.precondition).toEqual([
      { condition: `\${can(regex("^[Hh][Tt][Tt][Pp][Ss]?://[^[:space:]']+$", var.webhook))}`, error_message: expect.stringContaining('must be an http:// or https:// URL') },
    ]);
  });

  it('refuses a token where the value is rendered at synth, and says why', async () => {
    const { TerraformVariable } = await import('cdktf');
    // "net…" ids: errorOf counts what the test itself adds as not left behind.
    const n = (s: TerraformStack) => new TerraformVariable(s, 'net_port', { type: 'number' }).numberValue;
    const str = (s: TerraformStack) => new TerraformVariable(s, 'net_name', { type: 'string' }).stringValue;
    const literal = 'must be a literal, not a Terraform token: it is rendered into configuration at synth, and a token is known only at deploy;';
    expect(errorOf((s) => new LoadBalancer(s, 'lb', { networks: [testNetwork(s, 'net')], listenPort: n(s) }))).toMatch(new RegExp(`^test/lb: listenPort ${literal.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')} must be an integer between 1 and 65535 \\(got the token -?[0-9.e+]+\\)$`));
    expect(errorOf((s) => new MySqlPrimaryReplica(s, 'db', { network: testNetwork(s, 'net'), databaseName: str(s) }))).toMatch(/^test\/db: databaseName must be a literal, not a Terraform token: .* \(got the token "\$\{TfToken\[TOKEN\.\d+\]\}"\)$/);
  });
});

describe('wrong kinds of value: a clear message, never a TypeError, nothing left behind', () => {
  const net = (s: TerraformStack) => testNetwork(s, 'net');
  it.each([
    ['a missing codebase', (s: TerraformStack) => new DistributedWebStack(s, 'web', {} as any), 'test/web: codebase is required: { image: "..." } or { directory: "..." } (see AppServerPair) (got undefined)'],
    ['a string for database props', (s: TerraformStack) => new DistributedWebStack(s, 'web', { codebase: { image: 'a:1' }, database: 'mariadb' } as any), 'test/web: database must be MySqlPrimaryReplica props (an object) (got "mariadb")'],
    ['no props at all', (s: TerraformStack) => new LoadBalancer(s, 'lb', undefined as any), "test/lb: props must be an object (the construct's props) (got undefined)"],
    ['NaN for a port', (s: TerraformStack) => new LoadBalancer(s, 'lb', { networks: [net(s)], listenPort: NaN }), 'test/lb: listenPort must be an integer between 1 and 65535 (got NaN)'],
    ['undefined in networks', (s: TerraformStack) => new LoadBalancer(s, 'lb', { networks: [undefined as any] }), 'test/lb: networks.0 is required: a docker network construct (network.Network of @cdktf/provider-docker), the networks the load balancer joins (got undefined)'],
    ['a string for a network', (s: TerraformStack) => new MySqlPrimaryReplica(s, 'db', { network: 'data' as any }), 'test/db: network must be a docker network construct (network.Network of @cdktf/provider-docker), the one both servers join (got "data")'],
    ['a target without loadBalancerServers()', (s: TerraformStack) => new LoadBalancer(s, 'lb', { networks: [net(s)], targets: [{} as any] }), 'test/lb: targets.0 must be a load balancer target (an AppServerPair, or an object with loadBalancerServers()) (got {})'],
    ['an empty object for a database', (s: TerraformStack) => new AppServerPair(s, 'app', { codebase: { image: 'a:1' }, network: net(s), database: {} as any }), 'test/app: database must be a MySqlPrimaryReplica (or an IDatabaseConnection: writerHost, readerHost, port, databaseName, user, password, network) (got {})'],
    ['null for environment', (s: TerraformStack) => new AppServerPair(s, 'app', { codebase: { image: 'a:1' }, network: net(s), environment: null as any }), 'test/app: environment must be an object (got null)'],
    ['a string for the management network', (s: TerraformStack) => new Monitoring(s, 'mon', { managementNetwork: 'mgmt' as any }), 'test/mon: managementNetwork must be a docker network construct (network.Network of @cdktf/provider-docker), the internal network monitoring lives on (got "mgmt")'],
  ])('%s', (_, create, message) => {
    expect(errorOf(create)).toBe(message);
  });
});

// Every integer prop, at each side of its range and in the wrong kind: the exact message, nothing
// left in the tree, and good props under the same id after. Its bounds pass.
describe('integer props: refused outside their range, accepted at its ends', () => {
  type Build = (props: Record<string, unknown>) => (s: TerraformStack) => unknown;
  const target = { loadBalancerServers: () => [{ name: 'a', host: 'a', port: 80 }] };
  const builders: Record<string, { path: string; build: Build }> = {
    lb: { path: 'test/lb', build: (props) => (s) => new LoadBalancer(s, 'lb', { networks: [sharedNet(s)], targets: [target], ...props } as any) },
    app: { path: 'test/app', build: (props) => (s) => new AppServerPair(s, 'app', { codebase: { image: 'shop:1' }, network: sharedNet(s), ...props } as any) },
    db: { path: 'test/db', build: (props) => (s) => new MySqlPrimaryReplica(s, 'db', { network: sharedNet(s), ...props } as any) },
    mon: {
      path: 'test/mon',
      build: (props) => (s) => new Monitoring(s, 'mon', { managementNetwork: (s.node.tryFindChild('net-mgmt') as any) ?? testNetwork(s, 'net-mgmt', true), ...props } as any),
    },
  };
  // [construct, field, min, max, the largest value valid with the other defaults]
  const fields: [keyof typeof builders, string, number, number, number?][] = [
    ['lb', 'listenPort', 1, 65535],
    ['lb', 'tlsListenPort', 1, 65535],
    ['lb', 'statsPort', 1, 65535],
    ['lb', 'healthCheck.expectStatus', 100, 599],
    ['lb', 'healthCheck.intervalSeconds', 1, 60],
    ['lb', 'healthCheck.timeoutSeconds', 1, 60],
    ['lb', 'healthCheck.fall', 1, 10],
    ['lb', 'healthCheck.rise', 1, 10],
    ['lb', 'failureHandling.retries', 0, 10],
    ['lb', 'failureHandling.errorLimit', 0, 100],
    ['lb', 'failureHandling.slowStartSeconds', 0, 3600],
    ['lb', 'timeouts.connectSeconds', 1, 300],
    ['lb', 'timeouts.clientSeconds', 1, 3600],
    ['lb', 'timeouts.serverSeconds', 1, 3600],
    ['lb', 'timeouts.tunnelSeconds', 1, 86_400],
    ['lb', 'maxConnections', 1, 1_000_000],
    ['lb', 'memoryMb', 16, 1_048_576],
    ['lb', 'tls.selfSigned.validityDays', 1, 398],
    ['app', 'appPort', 1, 65535],
    ['app', 'proxyReadTimeoutSeconds', 1, 3600],
    ['app', 'appMemoryMb', 16, 1_048_576],
    ['app', 'nginxMemoryMb', 16, 1_048_576],
    ['db', 'port', 1, 65534],
    ['db', 'serverIdBase', 1, 4_294_967_294],
    ['db', 'memoryMb', 256, 1_048_576],
    // afterSeconds + 3 s must stay below the semi-sync timeout (10 s by default).
    ['db', 'failover.afterSeconds', 2, 3600, 6],
    ['db', 'failover.catchUpTimeoutSeconds', 1, 3600],
    ['mon', 'scrapeIntervalSeconds', 1, 300],
    ['mon', 'retentionDays', 1, 3650],
    ['mon', 'prometheusMemoryMb', 64, 1_048_576],
    ['mon', 'thresholds.certificateExpiryDays', 1, 365],
  ];
  const at = (field: string, value: unknown): Record<string, unknown> =>
    field.split('.').reduceRight<unknown>((inner, key) => ({ [key]: inner }), value) as Record<string, unknown>;
  const shown = (v: unknown) => (typeof v === 'string' ? JSON.stringify(v) : String(v));
  const bad = fields.flatMap(([c, field, min, max]) =>
    [min - 1, max + 1, min + 0.5, String(min), NaN, null].map((value) => [c, field, value, `${builders[c].path}: ${field} must be an integer between ${min} and ${max} (got ${shown(value)})`] as const),
  );
  it.each(bad)('%s %s = %j', (c, field, value, message) => {
    expect(errorOf(builders[c].build(at(field, value)), builders[c].build({}))).toBe(message);
  });
  const good = fields.flatMap(([c, field, min, max, validMax]) => [min, validMax ?? max].map((value) => [c, field, value] as const));
  it.each(good)('%s %s = %j is accepted', (c, field, value) => {
    const s = stack();
    builders[c].build(at(field, value))(s);
    expect(() => Testing.synth(s)).not.toThrow();
  });
});
