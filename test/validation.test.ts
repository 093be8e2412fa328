import { join } from 'node:path';
import { Testing, TerraformStack } from 'cdktf';
import { describe, expect, it } from 'vitest';
import { AppServerPair, DistributedWebStack, LoadBalancer, MySqlPrimaryReplica, ValidationError } from '../src';
import { testNetwork } from './helpers';

const APP_DIR = join(__dirname, '..', 'examples', 'app');
const stack = () => new TerraformStack(Testing.app(), 'test');

/** Creates with bad props; returns the error message and checks nothing was left in the tree. */
function errorOf(create: (s: TerraformStack) => void): string {
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
  return message;
}

describe('LoadBalancer validation', () => {
  const lb = (props: Record<string, unknown>) => (s: TerraformStack) =>
    new LoadBalancer(s, 'lb', { networks: [testNetwork(s, 'net')], ...props } as any);

  it.each([
    [{ healthCheck: { intervalSeconds: 0 } }, 'test/lb: healthCheck.intervalSeconds must be an integer between 1 and 60 (got 0)'],
    [{ healthCheck: { intervalSeconds: 1.5 } }, 'test/lb: healthCheck.intervalSeconds must be an integer between 1 and 60 (got 1.5)'],
    [{ healthCheck: { fall: 11 } }, 'test/lb: healthCheck.fall must be an integer between 1 and 10 (got 11)'],
    [{ healthCheck: { rise: 0 } }, 'test/lb: healthCheck.rise must be an integer between 1 and 10 (got 0)'],
    [{ healthCheck: { timeoutSeconds: 61 } }, 'test/lb: healthCheck.timeoutSeconds must be an integer between 1 and 60 (got 61)'],
    [{ healthCheck: { expectStatus: 99 } }, 'test/lb: healthCheck.expectStatus must be an integer between 100 and 599 (got 99)'],
    [{ healthCheck: { path: 'healthz' } }, 'test/lb: healthCheck.path must be a URL path starting with "/" without spaces (got "healthz")'],
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
    [{ namePrefix: '-web' }, 'test/lb: namePrefix must start with a letter or digit and contain only letters, digits, "_", "." or "-" (at most 63 characters) (got "-web")'],
    [{ networks: [] }, 'test/lb: networks must hold at least one network (got [])'],
    [{ publicPort: 80 }, 'test/lb: publicPort is not a known property (check the spelling)'],
    [
      { targets: [{ loadBalancerServers: () => [{ name: 'a', host: 'a', port: 80 }, { name: 'a', host: 'b', port: 80 }] }] },
      'test/lb: server.name must be unique in the backend (got "a" twice)',
    ],
    [{ targets: [{ loadBalancerServers: () => [{ name: 'a', host: 'bad host', port: 80 }] }] }, 'test/lb: server.host must be a Docker DNS name such as "web-server-1-nginx" (got "bad host")'],
    [{ targets: [{ loadBalancerServers: () => [{ name: 'a', host: 'a', port: 0 }] }] }, 'test/lb: server.port must be an integer between 1 and 65535 (got 0)'],
  ])('%j → %s', (props, message) => {
    expect(errorOf(lb(props))).toBe(message);
  });
});

describe('AppServerPair validation', () => {
  const pair = (props: Record<string, unknown>) => (s: TerraformStack) =>
    new AppServerPair(s, 'app', { codebase: { image: 'shop:1' }, network: testNetwork(s, 'net'), ...props } as any);

  it.each([
    [{ codebase: { directory: '/does/not/exist' } }, 'test/app: codebase.directory must be an existing directory (got "/does/not/exist")'],
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
    [{ network: undefined }, 'test/app: network is required: the docker network the load balancer reaches (got undefined)'],
  ])('%j → %s', (props, message) => {
    expect(errorOf(pair(props))).toBe(message);
  });

  it('addEnvironment rejects a bad name', () => {
    const s = stack();
    const p = pair({})(s);
    expect(() => p.addEnvironment('1X', 'y')).toThrow('test/app: environment name must be an environment variable name such as "LOG_LEVEL" (got "1X")');
  });
});

describe('MySqlPrimaryReplica validation', () => {
  const db = (props: Record<string, unknown>) => (s: TerraformStack) =>
    new MySqlPrimaryReplica(s, 'db', { network: testNetwork(s, 'net'), ...props } as any);

  it.each([
    [{ engine: 'postgres' }, 'test/db: engine must be "mysql" or "mariadb" (got "postgres")'],
    [{ databaseName: 'my-app' }, 'test/db: databaseName must start with a letter or "_" and contain only letters, digits and "_" (at most 32 characters) (got "my-app")'],
    [{ appUser: "x'; DROP" }, 'test/db: appUser must start with a letter or "_" and contain only letters, digits and "_" (at most 32 characters) (got "x\'; DROP")'],
    [{ replicationUser: '' }, 'test/db: replicationUser must start with a letter or "_" and contain only letters, digits and "_" (at most 32 characters) (got "")'],
    [{ port: 99999 }, 'test/db: port must be an integer between 1 and 65535 (got 99999)'],
    [{ serverIdBase: 0 }, 'test/db: serverIdBase must be an integer between 1 and 4294967294 (got 0)'],
    [{ settings: { max_connections: [1] } }, 'test/db: settings.max_connections must be a string, number or boolean (got [1])'],
    [{ settings: { 'Bad Key': 1 } }, 'test/db: settings key must be an option name such as "innodb_buffer_pool_size" (got "Bad Key")'],
    [{ settings: { init_connect: 'a\nb' } }, 'test/db: settings values must be on one line (got {"init_connect":"a\\nb"})'],
    [{ network: undefined }, 'test/db: network is required: the docker network both servers join (got undefined)'],
  ])('%j → %s', (props, message) => {
    expect(errorOf(db(props))).toBe(message);
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
