import { container, image, network } from '@cdktf/provider-docker';
import { Lazy } from 'cdktf';
import { Construct } from 'constructs';
import { z } from 'zod';
import { renderHaproxyConfig, HaproxyServer } from './config/haproxy';
import { DOCKER_DNS, defaultNamePrefix, ensureDockerProvider, healthcheck, terraformLiteral } from './docker';
import { ValidationError } from './errors';
import { DEFAULT_IMAGES, registryImage } from './images';
import { dockerName, imageRef, intBetween, parseProps } from './validation';

/** One server in a load balancer's backend, found by its Docker DNS name. */
export interface LoadBalancerServer {
  /** Name in HAProxy's statistics and logs. */
  readonly name: string;
  /** Docker DNS name (container name or network alias). */
  readonly host: string;
  readonly port: number;
}

/** Anything that can sit behind a LoadBalancer (an AppServerPair, or your own containers). */
export interface ILoadBalancerTarget {
  loadBalancerServers(): LoadBalancerServer[];
}

export interface LoadBalancerHealthCheckProps {
  /** @default "/healthz" */
  readonly path?: string;
  /** @default 200 */
  readonly expectStatus?: number;
  /** @default 2 */
  readonly intervalSeconds?: number;
  /** @default 2 */
  readonly timeoutSeconds?: number;
  /** Failed checks before a server leaves the rotation. @default 3 */
  readonly fall?: number;
  /** Passed checks before it comes back. @default 2 */
  readonly rise?: number;
}

export interface LoadBalancerProps {
  /** Networks the load balancer joins: where clients reach it and where its targets are. */
  readonly networks: network.Network[];
  /** Initial targets; more with addTarget(). @default none */
  readonly targets?: ILoadBalancerTarget[];
  /** Where the public port is published on the Docker host. @default { address: "127.0.0.1", port: 8080 } */
  readonly publish?: { readonly address?: string; readonly port?: number };
  /** HAProxy's public port inside the container. @default 80 */
  readonly listenPort?: number;
  /** Statistics (/stats), Prometheus metrics (/metrics) and health (/healthz); never published. @default 8404 */
  readonly statsPort?: number;
  readonly healthCheck?: LoadBalancerHealthCheckProps;
  /** @default { connectSeconds: 5, clientSeconds: 30, serverSeconds: 30 } */
  readonly timeouts?: { readonly connectSeconds?: number; readonly clientSeconds?: number; readonly serverSeconds?: number };
  /** @default 4096 */
  readonly maxConnections?: number;
  /** @default "haproxy:3.0" */
  readonly image?: string;
  /** Container names start with this. @default the stack's id */
  readonly namePrefix?: string;
}

const ipv4 = z
  .string({ error: 'must be an IPv4 address such as "127.0.0.1"' })
  .regex(/^((25[0-5]|2[0-4]\d|1?\d?\d)\.){3}(25[0-5]|2[0-4]\d|1?\d?\d)$/, { error: 'must be an IPv4 address such as "127.0.0.1"' });

const schema = z.strictObject({
  networks: z.array(z.any(), { error: 'must be a list of docker networks' }).min(1, { error: 'must hold at least one network' }),
  targets: z.array(z.any()).default([]),
  publish: z
    .strictObject({ address: ipv4.default('127.0.0.1'), port: intBetween(1, 65535).default(8080) })
    .default({ address: '127.0.0.1', port: 8080 }),
  listenPort: intBetween(1, 65535).default(80),
  statsPort: intBetween(1, 65535).default(8404),
  healthCheck: z
    .strictObject({
      path: z.string().regex(/^\/[A-Za-z0-9._~!$&'()*+,;=:@%\/?-]*$/, { error: 'must be a URL path starting with "/" without spaces' }).default('/healthz'),
      expectStatus: intBetween(100, 599).default(200),
      intervalSeconds: intBetween(1, 60).default(2),
      timeoutSeconds: intBetween(1, 60).default(2),
      fall: intBetween(1, 10).default(3),
      rise: intBetween(1, 10).default(2),
    })
    .default({ path: '/healthz', expectStatus: 200, intervalSeconds: 2, timeoutSeconds: 2, fall: 3, rise: 2 }),
  timeouts: z
    .strictObject({
      connectSeconds: intBetween(1, 300).default(5),
      clientSeconds: intBetween(1, 3600).default(30),
      serverSeconds: intBetween(1, 3600).default(30),
    })
    .default({ connectSeconds: 5, clientSeconds: 30, serverSeconds: 30 }),
  maxConnections: intBetween(1, 1_000_000).default(4096),
  image: imageRef.default(DEFAULT_IMAGES.haproxy),
  namePrefix: dockerName.optional(),
});

const CONFIG_PATH = '/usr/local/etc/haproxy/haproxy.cfg';

/**
 * An HAProxy load balancer: round robin over its targets with active HTTP health checks.
 * Backends are Docker DNS names, re-resolved at run time, so a replaced container is found again.
 */
export class LoadBalancer extends Construct {
  /** The HAProxy container. */
  readonly container: container.Container;
  readonly image: image.Image;
  /** The address and port clients use on the Docker host. */
  readonly publishedAddress: string;
  readonly publishedPort: number;
  readonly statsPort: number;
  private readonly servers: LoadBalancerServer[] = [];
  private readonly targets: ILoadBalancerTarget[] = [];

  constructor(scope: Construct, id: string, props: LoadBalancerProps) {
    const path = `${scope.node.path ? `${scope.node.path}/` : ''}${id}`;
    const p = parseProps(schema, props, path);
    if (p.statsPort === p.listenPort) {
      throw new ValidationError(path, 'statsPort', `must differ from listenPort ${p.listenPort} (got ${p.statsPort})`);
    }
    assertServers(path, (p.targets as ILoadBalancerTarget[]).flatMap((t) => t.loadBalancerServers()));
    super(scope, id);
    ensureDockerProvider(this);
    const prefix = p.namePrefix ?? defaultNamePrefix(this);
    this.publishedAddress = p.publish.address;
    this.publishedPort = p.publish.port;
    this.statsPort = p.statsPort;
    this.targets.push(...(p.targets as ILoadBalancerTarget[]));

    const config = Lazy.stringValue({
      produce: () =>
        terraformLiteral(renderHaproxyConfig({
          listenPort: p.listenPort,
          statsPort: p.statsPort,
          healthCheck: p.healthCheck,
          servers: this.backendServers(),
          timeouts: p.timeouts,
          resolver: `${DOCKER_DNS}:53`,
          maxConnections: p.maxConnections,
        })),
    });
    const hc = healthcheck({
      // The official image has no curl; bash's /dev/tcp asks HAProxy's monitor-uri instead.
      test: [
        'CMD',
        'bash',
        '-c',
        `exec 3<>/dev/tcp/127.0.0.1/${p.statsPort} && printf 'GET /healthz HTTP/1.0\\r\\n\\r\\n' >&3 && head -n1 <&3 | grep -q ' 200 '`,
      ],
      intervalSeconds: 2,
      timeoutSeconds: 2,
      startPeriodSeconds: 10,
      retries: 3,
    });

    this.image = registryImage(this, 'Image', p.image);
    this.container = new container.Container(this, 'Resource', {
      name: `${prefix}-lb`,
      image: this.image.imageId,
      // Master-worker mode: USR2 reloads without dropping connections; no image entrypoint needed.
      entrypoint: ['haproxy', '-W', '-db', '-f', CONFIG_PATH],
      upload: [{ file: CONFIG_PATH, content: config }],
      networksAdvanced: p.networks.map((n: network.Network) => ({ name: n.name, aliases: [`${prefix}-lb`] })),
      ports: [{ internal: p.listenPort, external: p.publish.port, ip: p.publish.address, protocol: 'tcp' }],
      restart: 'unless-stopped',
      stopSignal: 'SIGUSR1', // graceful: finish open connections, then exit
      destroyGraceSeconds: 35,
      healthcheck: hc.healthcheck,
      labels: [hc.label, { label: 'dws.role', value: 'load-balancer' }],
      wait: true,
      waitTimeout: 120,
    });

    this.node.addValidation({
      validate: () => (this.backendServers().length === 0 ? ['LoadBalancer has no backend servers: pass `targets` or call addTarget()'] : []),
    });
  }

  /** Adds every server of a target to the backend. Order of calls does not matter: rendering is lazy. */
  addTarget(target: ILoadBalancerTarget): void {
    assertServers(this.node.path, [...this.backendServers(), ...target.loadBalancerServers()]);
    this.targets.push(target);
  }

  /** Adds one server by its Docker DNS name. */
  addServer(server: LoadBalancerServer): void {
    assertServers(this.node.path, [...this.backendServers(), server]);
    this.servers.push({ ...server });
  }

  /** The backend servers, in order. A copy. */
  backendServers(): HaproxyServer[] {
    return [...this.servers, ...this.targets.flatMap((t) => t.loadBalancerServers())].map((s) => ({ ...s }));
  }

  /** The URL clients use. */
  get url(): string {
    return `http://${this.publishedAddress}:${this.publishedPort}/`;
  }
}

function assertServers(path: string, servers: LoadBalancerServer[]): void {
  const seen = new Set<string>();
  for (const s of servers) {
    if (!/^[A-Za-z0-9_.:-]+$/.test(s.name)) {
      throw new ValidationError(path, 'server.name', `must contain only letters, digits, "_", ".", ":" or "-" (got ${JSON.stringify(s.name)})`);
    }
    if (!/^[A-Za-z0-9][A-Za-z0-9_.-]*$/.test(s.host)) {
      throw new ValidationError(path, 'server.host', `must be a Docker DNS name such as "web-server-1-nginx" (got ${JSON.stringify(s.host)})`);
    }
    if (!Number.isInteger(s.port) || s.port < 1 || s.port > 65535) {
      throw new ValidationError(path, 'server.port', `must be an integer between 1 and 65535 (got ${JSON.stringify(s.port)})`);
    }
    if (seen.has(s.name)) {
      throw new ValidationError(path, 'server.name', `must be unique in the backend (got ${JSON.stringify(s.name)} twice)`);
    }
    seen.add(s.name);
  }
}
