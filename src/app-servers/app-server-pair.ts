import { existsSync, statSync } from 'node:fs';
import { isAbsolute, relative, resolve } from 'node:path';
import { container, image, network } from '@cdktf/provider-docker';
import { Fn, Lazy } from 'cdktf';
import { Construct } from 'constructs';
import { z } from 'zod';
import { NGINX_STATUS_PATH, renderNginxConfig } from './render/nginx';
import { DOCKER_DNS, terraformLiterals, namePrefixFor, ensureDockerProvider, HealthcheckSpec, stackContainer, healthcheck, networkSubnet, shortHash, terraformLiteral } from '../private/docker';
import { ValidationError } from '../errors';
import { DEFAULT_IMAGES, hashDirectory, isDirectory, registryImage } from '../private/images';
import { ILoadBalancerTarget, LoadBalancerServer } from '../load-balancer/load-balancer';
import { IDatabaseConnection } from '../database/mysql-primary-replica';
import { propsSchema } from '../private/props-schema';
import { childPath, imageRef, intBetween, parseProps, namePrefix, dockerNetwork, databaseConnection } from '../private/validation';

/** The application's code: an image, or a directory with a Dockerfile built on the Docker host. */
export type Codebase =
  | {
      /** An image that runs the app, e.g. "registry.example.com/shop:1.4.2". */
      readonly image: string;
      /** Directory in the image whose files Nginx serves; false for none. @default "/app/public" */
      readonly staticPath?: string | false;
    }
  | {
      /** A directory with a Dockerfile; its content hash tags the image, so a change rebuilds. */
      readonly directory: string;
      /** @default "Dockerfile" */
      readonly dockerfile?: string;
      /** @default none */
      readonly buildArgs?: Record<string, string>;
      /** @default "/app/public" */
      readonly staticPath?: string | false;
    };

export interface AppServerPairProps {
  readonly codebase: Codebase;
  /** The network where the load balancer reaches Nginx and Nginx reaches the app. */
  readonly network: network.Network;
  /**
   * The management network: each Nginx joins it and serves `stub_status` there only (port 8081,
   * for the Prometheus exporter). @default none: no status endpoint
   */
  readonly managementNetwork?: network.Network;
  /** The database the app uses; the app containers join its network. @default none */
  readonly database?: IDatabaseConnection;
  /** Port the app listens on inside its container (given to it as PORT). @default 3000 */
  readonly appPort?: number;
  /** Path Nginx's healthcheck requests (it goes through to the app). @default "/healthz" */
  readonly healthCheckPath?: string;
  /** Extra environment for the app; more with addEnvironment(). @default none */
  readonly environment?: Record<string, string>;
  /** Docker healthcheck for the app container (test command). @default none: Nginx's check covers it */
  readonly appHealthCheck?: string[];
  /** @default "nginx:1.27" */
  readonly nginxImage?: string;
  /** @default "10m" */
  readonly clientMaxBodySize?: string;
  /** @default 60 */
  readonly proxyReadTimeoutSeconds?: number;
  /** Memory limit of each app container. @default 512 */
  readonly appMemoryMb?: number;
  /** Memory limit of each Nginx container. @default 128 */
  readonly nginxMemoryMb?: number;
  /** Container names start with this. @default the stack's id */
  readonly namePrefix?: string;
}

const staticPath = z
  .union([z.literal(false), z.string().regex(/^\/[A-Za-z0-9._\/-]*$/, { error: 'must be an absolute path in the image, or false' })], {
    error: 'must be an absolute path in the image, or false',
  })
  .default('/app/public');
const imageCodebase = propsSchema<Extract<Codebase, { image: string }>>()({ image: imageRef, staticPath });
const directoryCodebase = propsSchema<Extract<Codebase, { directory: string }>>()({
  directory: z.string().refine(isDirectory, { error: 'must be an existing directory' }),
  dockerfile: z.string().regex(/^[A-Za-z0-9._\/-]+$/, { error: 'must be a file name in the directory' }).default('Dockerfile'),
  buildArgs: z.record(z.string(), z.string({ error: 'must be a string' })).default({}),
  staticPath,
});

function parseCodebase(input: unknown, path: string): z.output<typeof imageCodebase> | z.output<typeof directoryCodebase> {
  if (input && typeof input === 'object' && 'directory' in input) {
    const c = parseProps(directoryCodebase, input, path, 'codebase');
    // Docker builds only from inside the context: a Dockerfile elsewhere, or none, fails at deploy.
    const file = resolve(c.directory, c.dockerfile);
    const rel = relative(resolve(c.directory), file);
    if (rel.startsWith('..') || isAbsolute(rel) || !existsSync(file) || !statSync(file).isFile()) {
      throw new ValidationError(path, 'codebase.dockerfile', `must be a file inside codebase.directory ${JSON.stringify(c.directory)} (got ${JSON.stringify(c.dockerfile)})`);
    }
    return c;
  }
  if (input && typeof input === 'object' && 'image' in input) return parseProps(imageCodebase, input, path, 'codebase');
  throw new ValidationError(path, 'codebase', `must be { image: "..." } or { directory: "..." } (got ${JSON.stringify(input)})`);
}

const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;
const schema = propsSchema<AppServerPairProps>()({
  codebase: z.any(),
  network: dockerNetwork('the one the load balancer reaches'),
  managementNetwork: dockerNetwork('the management network').optional(),
  database: databaseConnection.optional(),
  appPort: intBetween(1, 65535).default(3000),
  healthCheckPath: z.string().regex(/^\/[A-Za-z0-9._~\/?=&-]*$/, { error: 'must be a URL path starting with "/"' }).default('/healthz'),
  environment: z.record(z.string().regex(ENV_NAME, { error: 'must be an environment variable name such as "LOG_LEVEL"' }), z.string({ error: 'must be a string' })).default({}),
  appHealthCheck: z.array(z.string()).min(1, { error: 'must be a Docker healthcheck test such as ["CMD", "curl", "-f", "http://127.0.0.1:3000/"]' }).optional(),
  nginxImage: imageRef.default(DEFAULT_IMAGES.nginx),
  clientMaxBodySize: z.string().regex(/^\d+[kKmMgG]?$/, { error: 'must be a size such as "10m"' }).default('10m'),
  proxyReadTimeoutSeconds: intBetween(1, 3600).default(60),
  appMemoryMb: intBetween(16, 1_048_576).default(512),
  nginxMemoryMb: intBetween(16, 1_048_576).default(128),
  namePrefix: namePrefix.optional(),
});
/** The props' checks and defaults, for the tests (src/index.ts does not export it). */
export const appServerPairPropsSchema = schema;
export const codebasePropsSchemas = { image: imageCodebase, directory: directoryCodebase };

const NGINX_CONFIG = '/etc/dws/nginx.conf';
const STATIC_ROOT = '/srv/static';
const NGINX_STATUS_PORT = 8081;
/** Stands for "<nginx container name>-mgmt" in the rendered config (the name is known to Terraform only). */
const OWN_STATUS_HOST = '__OWN_STATUS_HOST__';
/** Stands for the app network's subnet (Docker picks it; Terraform knows it once the network exists). */
const APP_SUBNET = '__APP_NETWORK_SUBNET__';
const DB_PASSWORD_FILE = '/run/secrets/db-password';
const DB_TLS_CA_FILE = '/run/secrets/db-ca.pem';

/** One server of the pair: Nginx in front of the app. */
export interface AppServer {
  readonly name: string;
  /** Nginx's Docker DNS name: what the load balancer connects to. */
  readonly host: string;
  /** Nginx's `stub_status` URL on the management network, when there is one. */
  readonly statusUrl: string | undefined;
  readonly nginx: container.Container;
  readonly app: container.Container;
}

/**
 * Two application servers, active-active. Each is an Nginx container (static files, reverse
 * proxy) in front of an app container running the codebase.
 */
export class AppServerPair extends Construct implements ILoadBalancerTarget {
  readonly servers: readonly [AppServer, AppServer];
  /** The app's image (built from the directory, or pulled). */
  readonly appImage: image.Image;
  /** Nginx's image: the Nginx image plus the static files, or the plain Nginx image. */
  readonly nginxImage: image.Image;
  private readonly environment = new Map<string, string>();

  constructor(scope: Construct, id: string, props: AppServerPairProps) {
    const path = childPath(scope, id);
    const p = parseProps(schema, props, path);
    const prefix = namePrefixFor(scope, path, p.namePrefix);
    const codebase = parseCodebase(p.codebase, path);
    for (const name of Object.keys(p.environment)) assertNotReserved(path, name);
    super(scope, id);
    ensureDockerProvider(this);
    const db = p.database as IDatabaseConnection | undefined;
    for (const [k, v] of Object.entries(p.environment)) this.environment.set(k, v);

    let codebaseKey: string;
    if ('directory' in codebase) {
      const dir = resolve(codebase.directory);
      const hash = hashDirectory(dir);
      codebaseKey = hash;
      this.appImage = new image.Image(this, 'AppImage', {
        name: `${prefix}-app:${hash}`,
        // Paths in cdk.tf.json are relative to cdktf.out/stacks/<stack>: always absolute here.
        buildAttribute: { context: dir, dockerfile: codebase.dockerfile, buildArgs: terraformLiterals(codebase.buildArgs) },
        triggers: { source_sha: hash },
      });
    } else {
      codebaseKey = codebase.image;
      this.appImage = registryImage(this, 'AppImage', codebase.image);
    }

    const nginxBase = registryImage(this, 'NginxBaseImage', p.nginxImage);
    if (codebase.staticPath) {
      const context = resolve(__dirname, '..', '..', 'assets', 'static-site');
      this.nginxImage = new image.Image(this, 'NginxImage', {
        name: `${prefix}-static:${shortHash(p.nginxImage, codebaseKey, codebase.staticPath)}`,
        buildAttribute: {
          context,
          buildArgs: { CODEBASE_IMAGE: this.appImage.name, NGINX_IMAGE: nginxBase.name, STATIC_PATH: codebase.staticPath },
        },
        triggers: { codebase: this.appImage.imageId, nginx: nginxBase.imageId },
      });
    } else {
      this.nginxImage = nginxBase;
    }

    const nginxHealth: HealthcheckSpec = {
      test: ['CMD', 'curl', '-fsS', '-o', '/dev/null', '--max-time', '2', `http://127.0.0.1${p.healthCheckPath}`],
      intervalSeconds: 2,
      timeoutSeconds: 3,
      startPeriodSeconds: 60,
      retries: 3,
    };
    const appHealth: HealthcheckSpec | undefined = p.appHealthCheck ? { test: p.appHealthCheck, intervalSeconds: 2, timeoutSeconds: 3, startPeriodSeconds: 60, retries: 3 } : undefined;
    // Part of each generation's name: a changed healthcheck is a new generation.
    const healthHash = (h: HealthcheckSpec | undefined) => (h ? healthcheck(h).label.value : '');
    const appNetworks = [p.network as network.Network, ...(db ? [db.network] : [])];
    const mgmt = p.managementNetwork as network.Network | undefined;

    const makeServer = (index: 1 | 2, previous?: container.Container): AppServer => {
      const name = `server-${index}`;
      const appHost = `${prefix}-${name}-app`;
      const nginxHost = `${prefix}-${name}-nginx`;
      const fixedEnv: Record<string, string> = {
        PORT: String(p.appPort),
        SERVER_NAME: name,
        ...(db
          ? {
              DB_WRITE_HOST: db.writerHost,
              DB_READ_HOST: db.readerHost,
              DB_PORT: String(db.port),
              DB_READ_PORT: String(db.readerPort ?? db.port),
              DB_NAME: db.databaseName,
              DB_USER: db.user,
              DB_PASSWORD_FILE,
              ...(db.caCertificatePem ? { DB_TLS_CA_FILE } : {}),
            }
          : {}),
      };
      const appEnv = () => Object.entries({ ...Object.fromEntries(this.environment), ...fixedEnv }).map(([k, v]) => `${k}=${terraformLiteral(v)}`).sort();
      const app = stackContainer(this, `Server${index}App`, {
        name: generationName(appHost, [this.appImage.imageId, ...(db ? [db.password, db.caCertificatePem ?? ''] : [])], () => [appEnv(), healthHash(appHealth)]),
        image: this.appImage.imageId,
        env: Lazy.listValue({ produce: appEnv }),
        upload: db
          ? [
              { file: DB_PASSWORD_FILE, content: db.password, permissions: '0444' },
              ...(db.caCertificatePem ? [{ file: DB_TLS_CA_FILE, content: db.caCertificatePem, permissions: '0444' }] : []),
            ]
          : undefined,
        // The app needs no capability (run it as a non-root user in its image).
        memoryMb: p.appMemoryMb,
        networksAdvanced: appNetworks.map((n) => ({ name: n.name, aliases: [appHost] })),
        destroyGraceSeconds: 30,
        health: appHealth,
        role: 'app',
        wait: appHealth !== undefined,
        waitTimeout: 120,
        lifecycle: { createBeforeDestroy: true },
        // Rolling: server 2 is replaced only once server 1's new containers are healthy.
        dependsOn: previous ? [previous] : undefined,
      });
      // Only the management network resolves these aliases, so the status page listens only there:
      // statusHost for the exporter; the status page binds an alias of this generation only
      // (while a replacement starts, statusHost also names the old container).
      const statusHost = `${nginxHost}-mgmt`;
      const statusListen = mgmt ? `${statusHost}:${NGINX_STATUS_PORT}` : undefined;
      const nginxConfig = renderNginxConfig({
        statusListen: mgmt ? `${OWN_STATUS_HOST}:${NGINX_STATUS_PORT}` : undefined,
        listenPort: 80,
        staticRoot: codebase.staticPath ? STATIC_ROOT : undefined,
        appHost,
        appPort: p.appPort,
        resolver: DOCKER_DNS,
        clientMaxBodySize: p.clientMaxBodySize,
        proxyReadTimeoutSeconds: p.proxyReadTimeoutSeconds,
        // The load balancer reaches Nginx over the app network: only from there is X-Real-IP believed.
        trustedProxies: APP_SUBNET,
      });
      const nginxName = generationName(nginxHost, [this.nginxImage.imageId], () => [nginxConfig, healthHash(nginxHealth)]);
      const ownStatusHost = `${nginxName}-mgmt`;
      const nginx = stackContainer(this, `Server${index}Nginx`, {
        name: nginxName,
        image: this.nginxImage.imageId,
        entrypoint: ['nginx', '-g', 'daemon off;', '-c', NGINX_CONFIG],
        upload: [{ file: NGINX_CONFIG, content: nginxConfig.replace(OWN_STATUS_HOST, ownStatusHost).replace(APP_SUBNET, networkSubnet(p.network as network.Network)) }],
        // The master (root) binds :80, creates its temp dirs for the workers and drops them
        // to an unprivileged user.
        addCapabilities: ['CHOWN', 'SETUID', 'SETGID', 'NET_BIND_SERVICE'],
        memoryMb: p.nginxMemoryMb,
        networksAdvanced: [
          { name: (p.network as network.Network).name, aliases: [nginxHost] },
          ...(mgmt ? [{ name: mgmt.name, aliases: [statusHost, ownStatusHost] }] : []),
        ],
        stopSignal: 'SIGQUIT', // graceful: in-flight requests finish
        destroyGraceSeconds: 30,
        health: nginxHealth,
        role: 'web',
        wait: true,
        waitTimeout: 180,
        lifecycle: { createBeforeDestroy: true },
        dependsOn: [app],
      });
      return { name, host: nginxHost, statusUrl: statusListen && `http://${statusListen}${NGINX_STATUS_PATH}`, nginx, app };
    };
    const first = makeServer(1);
    this.servers = [first, makeServer(2, first.nginx)];
  }

  /** Sets an environment variable on both app containers. Throws if it is already set. */
  addEnvironment(name: string, value: string): void {
    if (!ENV_NAME.test(name)) {
      throw new ValidationError(this.node.path, 'environment name', `must be an environment variable name such as "LOG_LEVEL" (got ${JSON.stringify(name)})`);
    }
    assertNotReserved(this.node.path, name);
    if (this.environment.has(name)) {
      throw new ValidationError(this.node.path, `environment.${name}`, `is already set (got it twice)`);
    }
    this.environment.set(name, value);
  }

  /** The Nginx containers, by Docker DNS name, for a load balancer's backend. */
  loadBalancerServers(): LoadBalancerServer[] {
    return this.servers.map((s) => ({ name: s.host, host: s.host, port: 80 }));
  }
}

/**
 * "<base>-<generation>": the generation changes whenever the container must be replaced, so the
 * new container can start (create-before-destroy) while the old one, with the same network alias
 * `base`, still serves. Inputs known only to Terraform (image ids, secrets) are hashed there.
 */
function generationName(base: string, terraformInputs: string[], synthInputs: () => unknown): string {
  // Two halves: a Lazy value cannot go inside a Terraform function call (it would render unquoted).
  const synthHalf = Lazy.stringValue({ produce: () => shortHash(JSON.stringify(synthInputs())).slice(0, 6) });
  return `${base}-${synthHalf}${Fn.substr(Fn.sha1(Fn.join('|', terraformInputs)), 0, 6)}`;
}

const RESERVED_ENV = new Set(['PORT', 'SERVER_NAME', 'DB_WRITE_HOST', 'DB_READ_HOST', 'DB_PORT', 'DB_READ_PORT', 'DB_NAME', 'DB_USER', 'DB_PASSWORD_FILE', 'DB_TLS_CA_FILE']);

function assertNotReserved(path: string, name: string): void {
  if (RESERVED_ENV.has(name)) {
    throw new ValidationError(path, `environment.${name}`, `is set by the library (reserved: ${[...RESERVED_ENV].join(', ')})`);
  }
}
