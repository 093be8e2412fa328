import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { AppServerPair, IDatabaseConnection, LoadBalancer, MySqlPrimaryReplica, ValidationError } from '../src';
import { baseName, byName, passwordLiterals, resources, synthStack, testNetwork, uploaded } from './helpers';

const APP_DIR = join(__dirname, '..', 'examples', 'app');

describe('AppServerPair', () => {
  it('given a directory, builds the app image tagged by a content hash and runs two Nginx + app servers', () => {
    const { tf } = synthStack((stack) => {
      new AppServerPair(stack, 'app', { codebase: { directory: APP_DIR, buildArgs: { BASE_IMAGE: 'local/node:20' } }, network: testNetwork(stack) });
    });
    const images = resources(tf, 'docker_image');
    const appImage = images.find((i) => i.name.startsWith('test-app:'));
    expect(appImage.name).toMatch(/^test-app:[0-9a-f]{12}$/);
    expect(appImage.build).toMatchObject({ context: APP_DIR, dockerfile: 'Dockerfile', build_args: { BASE_IMAGE: 'local/node:20' } });
    expect(appImage.triggers.source_sha).toBe(appImage.name.split(':')[1]);
    const names = resources(tf, 'docker_container').map((c) => baseName(c.name)).sort();
    expect(names).toEqual(['test-server-1-app', 'test-server-1-nginx', 'test-server-2-app', 'test-server-2-nginx']);
  });

  it('bakes the static files into an Nginx image and serves them before proxying', () => {
    const { tf } = synthStack((stack) => {
      new AppServerPair(stack, 'app', { codebase: { directory: APP_DIR }, network: testNetwork(stack), nginxImage: 'mirror/nginx:1.27' });
    });
    const staticImage = resources(tf, 'docker_image').find((i) => i.name.startsWith('test-static:'));
    expect(staticImage.build.context).toBe(join(__dirname, '..', 'assets', 'static-site'));
    expect(staticImage.build.build_args).toMatchObject({
      CODEBASE_IMAGE: expect.stringMatching(/^\$\{docker_image\.app_AppImage_[0-9A-F]+\.name\}$/),
      NGINX_IMAGE: expect.stringMatching(/^\$\{docker_image\.app_NginxBaseImage_[0-9A-F]+\.name\}$/),
      STATIC_PATH: '/app/public',
    });
    const nginx = byName(tf, 'docker_container', 'test-server-1-nginx');
    expect(nginx.image).toMatch(/^\$\{docker_image\.app_NginxImage_[0-9A-F]+\.image_id\}$/);
    const conf = uploaded(nginx, '/etc/dws/nginx.conf');
    expect(conf).toContain('root /srv/static;');
    expect(conf).toContain('try_files $uri @app;');
    expect(conf).toContain('set $app_upstream http://test-server-1-app:3000;');
    expect(nginx.stop_signal).toBe('SIGQUIT');
    expect(nginx.healthcheck.test).toEqual(['CMD', 'curl', '-fsS', '-o', '/dev/null', '--max-time', '2', 'http://127.0.0.1/healthz']);
  });

  it('given an image and no static path, uses the plain Nginx image and proxies everything', () => {
    const { tf } = synthStack((stack) => {
      new AppServerPair(stack, 'app', { codebase: { image: 'shop:1.2', staticPath: false }, network: testNetwork(stack) });
    });
    expect(resources(tf, 'docker_image').map((i) => i.name).sort()).toEqual(['nginx:1.27', 'shop:1.2']);
    const conf = uploaded(byName(tf, 'docker_container', 'test-server-2-nginx'), '/etc/dws/nginx.conf');
    expect(conf).not.toContain('try_files');
    expect(conf).toContain('set $app_upstream http://test-server-2-app:3000;');
  });

  it('tells the app where to write and where to read, with the password in a file', () => {
    const { tf, json } = synthStack((stack) => {
      const data = testNetwork(stack, 'data', true);
      const db = new MySqlPrimaryReplica(stack, 'db', { network: data });
      const pair = new AppServerPair(stack, 'app', { codebase: { image: 'shop:1.2' }, network: testNetwork(stack), database: db, environment: { LOG_LEVEL: 'info' } });
      pair.addEnvironment('FEATURE_X', 'on');
    });
    const app = byName(tf, 'docker_container', 'test-server-1-app');
    expect(app.env).toEqual([
      'DB_NAME=app',
      'DB_PASSWORD_FILE=/run/secrets/db-password',
      'DB_PORT=3306',
      // Both endpoints are the database router: writes on the port, reads on the next one.
      'DB_READ_HOST=test-db-router',
      'DB_READ_PORT=3307',
      'DB_USER=app',
      'DB_WRITE_HOST=test-db-router',
      'FEATURE_X=on',
      'LOG_LEVEL=info',
      'PORT=3000',
      'SERVER_NAME=server-1',
    ]);
    expect(uploaded(app, '/run/secrets/db-password')).toMatch(/^\$\{random_password\.db_AppPassword_[0-9A-F]+\.result\}$/);
    expect(app.networks_advanced.map((n: any) => n.name)).toEqual(['${docker_network.net.name}', '${docker_network.data.name}']);
    expect(passwordLiterals(json)).toEqual([]);
  });

  it('given a database connection without a reader port, reads on the writer port', () => {
    const { tf } = synthStack((stack) => {
      const data = testNetwork(stack, 'data', true);
      const db: IDatabaseConnection = { writerHost: 'pg-writer', readerHost: 'pg-reader', port: 6446, databaseName: 'shop', user: 'shop', password: '${var.db_password}', network: data };
      new AppServerPair(stack, 'app', { codebase: { image: 'shop:1.2' }, network: testNetwork(stack), database: db });
    });
    const env = byName(tf, 'docker_container', 'test-server-2-app').env;
    expect(env.filter((e: string) => /^DB_(WRITE|READ)_|^DB_PORT=/.test(e))).toEqual(['DB_PORT=6446', 'DB_READ_HOST=pg-reader', 'DB_READ_PORT=6446', 'DB_WRITE_HOST=pg-writer']);
  });

  it('given a database with tls, gives the app its CA as a file and DB_TLS_CA_FILE', () => {
    const { tf } = synthStack((stack) => {
      const db = new MySqlPrimaryReplica(stack, 'db', { network: testNetwork(stack, 'data', true), tls: true });
      new AppServerPair(stack, 'app', { codebase: { image: 'shop:1.2' }, network: testNetwork(stack), database: db });
    });
    for (const name of ['test-server-1-app', 'test-server-2-app']) {
      const app = byName(tf, 'docker_container', name);
      expect(app.env).toContain('DB_TLS_CA_FILE=/run/secrets/db-ca.pem');
      expect(app.upload.find((u: any) => u.file === '/run/secrets/db-ca.pem')).toEqual({
        file: '/run/secrets/db-ca.pem',
        content: expect.stringMatching(/^\$\{tls_self_signed_cert\.db_TlsCa_[0-9A-F]+\.cert_pem\}$/),
        permissions: '0444',
      });
    }
  });

  it('given a database without tls, sets no DB_TLS_CA_FILE', () => {
    const { tf } = synthStack((stack) => {
      const db = new MySqlPrimaryReplica(stack, 'db', { network: testNetwork(stack, 'data', true) });
      new AppServerPair(stack, 'app', { codebase: { image: 'shop:1.2' }, network: testNetwork(stack), database: db });
    });
    const app = byName(tf, 'docker_container', 'test-server-1-app');
    expect(app.env.join('\n')).not.toContain('DB_TLS_CA_FILE');
    expect(app.upload.map((u: any) => u.file)).toEqual(['/run/secrets/db-password']);
  });

  it('is a load balancer target by its Nginx containers', () => {
    const { tf } = synthStack((stack) => {
      const net = testNetwork(stack);
      const pair = new AppServerPair(stack, 'app', { codebase: { image: 'shop:1.2' }, network: net });
      new LoadBalancer(stack, 'lb', { networks: [net], targets: [pair] });
    });
    const cfg = uploaded(byName(tf, 'docker_container', 'test-lb'), '/usr/local/etc/haproxy/haproxy.cfg');
    expect(cfg).toContain('  server-template test-server-1-nginx. 2 test-server-1-nginx:80\n  server-template test-server-2-nginx. 2 test-server-2-nginx:80\n');
  });

  it('rejects setting an environment variable twice, and reserved names', () => {
    synthStack((stack) => {
      const pair = new AppServerPair(stack, 'app', { codebase: { image: 'shop:1.2' }, network: testNetwork(stack), environment: { A: '1' } });
      expect(() => pair.addEnvironment('A', '2')).toThrow(new ValidationError('test/app', 'environment.A', 'is already set (got it twice)'));
      expect(() => pair.addEnvironment('DB_USER', 'x')).toThrow(/test\/app: environment.DB_USER is set by the library/);
      expect(() => pair.addEnvironment('DB_TLS_CA_FILE', 'x')).toThrow(/test\/app: environment.DB_TLS_CA_FILE is set by the library/);
    });
  });

  it('replaces servers one at a time, each new container before its old one (rolling deploy)', () => {
    const synth = (env: Record<string, string>) =>
      synthStack((stack) => {
        const pair = new AppServerPair(stack, 'app', { codebase: { image: 'shop:1.2' }, network: testNetwork(stack) });
        for (const [k, v] of Object.entries(env)) pair.addEnvironment(k, v);
      }).tf;
    const tf = synth({});
    const c = (name: string) => byName(tf, 'docker_container', name);
    const ref = (name: string) => Object.entries(tf.resource.docker_container).find(([, v]) => v === c(name))![0];
    for (const name of ['test-server-1-app', 'test-server-1-nginx', 'test-server-2-app', 'test-server-2-nginx']) {
      expect(c(name).lifecycle).toEqual({ create_before_destroy: true });
      // A new name per generation (the old container still holds the old one); the alias stays.
      expect(c(name).name).toMatch(new RegExp(`^${name}-[0-9a-f]{6}\\$\\{substr\\(sha1\\(join\\("\\|", \\[docker_image\\.`));
      expect(c(name).networks_advanced[0].aliases).toEqual([name]);
    }
    expect(c('test-server-1-nginx').depends_on).toEqual([`docker_container.${ref('test-server-1-app')}`]);
    expect(c('test-server-2-app').depends_on).toEqual([`docker_container.${ref('test-server-1-nginx')}`]);
    expect(c('test-server-2-nginx').depends_on).toEqual([`docker_container.${ref('test-server-2-app')}`]);
    // Same input, same name (no replacement); an environment change gives the apps a new name.
    expect(synth({}).resource.docker_container).toEqual(tf.resource.docker_container);
    const changed = synth({ FEATURE: 'on' });
    expect(byName(changed, 'docker_container', 'test-server-1-app').name).not.toBe(c('test-server-1-app').name);
    expect(byName(changed, 'docker_container', 'test-server-1-nginx').name).toBe(c('test-server-1-nginx').name);
  });
});
