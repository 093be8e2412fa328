import { container, image, network, volume } from '@cdktf/provider-docker';
import { password } from '@cdktf/provider-random';
import { certRequest, locallySignedCert, privateKey, selfSignedCert } from '@cdktf/provider-tls';
import { Lazy } from 'cdktf';
import { Construct } from 'constructs';
import { z } from 'zod';
import {
  BACKUP_USER,
  DB_PATHS,
  DB_SECRET_FILES,
  DB_TLS_FILES,
  DatabaseEngine,
  DatabaseRole,
  EXPORTER_USER,
  FAILOVER_USER,
  HEARTBEAT,
  dbHealthcheckCommand,
  guardedSetting,
  renderDbEntrypoint,
  containerHostPattern,
  renderMyCnf,
} from './render/mysql';
import { DB_ROUTER_PATHS, FAILOVER_METRICS_PORT, FAILOVER_PATHS, ROUTE_DIR, renderDbRouterConfig, renderFailoverConfig, renderRouteCheck } from './render/db-failover';
import { DOCKER_DNS, shortHash, namePrefixFor, ensureDockerProvider, ensureRandomProvider, ensureTlsProvider, HealthcheckSpec, stackContainer, terraformLiteral } from '../private/docker';
import { ValidationError } from '../errors';
import { DEFAULT_IMAGES, hashDirectory, registryImage } from '../private/images';
import { resolve } from 'node:path';
import { propsSchema } from '../private/props-schema';
import { childPath, dockerName, imageRef, intBetween, parseProps, sqlIdentifier, namePrefix, dockerNetwork } from '../private/validation';

/** What an application needs to use a database: the writer and reader endpoints. */
export interface IDatabaseConnection {
  /** Docker DNS name for writes: it reaches whichever node takes writes. */
  readonly writerHost: string;
  /** Docker DNS name for reads: the replica while it replicates, else the writer. */
  readonly readerHost: string;
  /** The writer endpoint's port. */
  readonly port: number;
  /** The reader endpoint's port. @default port */
  readonly readerPort?: number;
  readonly databaseName: string;
  readonly user: string;
  /** The application user's password (a Terraform reference, never a literal). */
  readonly password: string;
  /** The network the database is on; clients must join it. */
  readonly network: network.Network;
  /**
   * The CA certificate (PEM, a Terraform reference) that signed the servers' certificates, when
   * the database requires TLS: clients must connect with TLS, verifying against it.
   */
  readonly caCertificatePem?: string;
}

/** Who moves the writer, and when. */
export interface DatabaseFailoverProps {
  /**
   * Promote the replica when the writer has been unreachable for `afterSeconds`, if the writer
   * was replicating semi-synchronously to it when last seen (so no acknowledged write is lost).
   * Needs semi-sync. `false`: the agent still routes, fences and rejoins, but only a deploy that
   * changes `writer` moves the writer.
   * @default true with semi-sync, false without
   */
  readonly automatic?: boolean;
  /** @default 5 */
  readonly afterSeconds?: number;
  /** Longest wait for the replica to apply what it received before it is promoted. @default 30 */
  readonly catchUpTimeoutSeconds?: number;
}

export interface MySqlPrimaryReplicaProps {
  /** The network both servers join; make it `internal` (DistributedWebStack does). */
  readonly network: network.Network;
  /** @default "mysql" (MySQL 8.4+); "mariadb" for MariaDB 10.11+/11.x */
  readonly engine?: DatabaseEngine;
  /** @default "mysql:8.4" for mysql, "mariadb:11.4" for mariadb */
  readonly image?: string;
  /** The application's database. @default "app" */
  readonly databaseName?: string;
  /** The application's user: all data privileges on databaseName only. @default "app" */
  readonly appUser?: string;
  /** The replication user: REPLICATION SLAVE only. @default "repl" */
  readonly replicationUser?: string;
  /** @default 3306 */
  readonly port?: number;
  /** server_id of the primary; the replica gets the next one. @default 1 */
  readonly serverIdBase?: number;
  /**
   * Extra [mysqld] settings for both servers, e.g. { innodb_buffer_pool_size: "256M" }. The
   * options the library sets itself, which its guarantees rest on (server_id, read_only,
   * super_read_only, log_bin, sync_binlog, gtid_*, the semi-sync and TLS options, ...), and
   * skip_grant_tables, skip_networking, init_file are refused here: see `guardedSettingOverrides`.
   * @default none
   */
  readonly settings?: Record<string, string | number | boolean>;
  /**
   * Overrides of options the library's guarantees rest on (see `settings`), written after its
   * own. Each one can break failover, fencing or durability: you own the consequences.
   * @default none
   */
  readonly guardedSettingOverrides?: Record<string, string | number | boolean>;
  /**
   * Semi-synchronous replication, waiting AFTER_SYNC: the primary acknowledges a commit only once
   * the replica has it in its relay log, so losing the primary loses no acknowledged write. If
   * the replica does not acknowledge within `timeoutMs` (it is down, stopped or partitioned), the
   * primary degrades to asynchronous replication, and returns to semi-sync once the replica has
   * caught up; the monitoring alert MySQLSemiSyncDegraded fires while it is degraded.
   * `false`: asynchronous replication (an acknowledged write can be lost with the primary).
   * @default { timeoutMs: 10000 }
   */
  readonly semiSync?: false | { readonly timeoutMs?: number };
  /**
   * TLS for replication and for every client: a private CA (tls provider) signs a certificate
   * for each server's Docker DNS name; the servers set require_secure_transport, the app and
   * replication accounts REQUIRE SSL, and the replica verifies the primary's certificate.
   * Clients get the CA as `caCertificatePem` (AppServerPair passes it on as DB_TLS_CA_FILE).
   * Server certificates are valid for a year and renewed by a deploy in their last 30 days
   * (which replaces the containers). The CA's key is in the Terraform state: protect the state.
   * @default false
   */
  readonly tls?: boolean;
  /** Memory limit of each server's container. @default 1024 */
  readonly memoryMb?: number;
  /**
   * The node that takes writes: "primary" (`<prefix>-db-primary`) or "replica"
   * (`<prefix>-db-replica`); the names are the nodes' first roles. Changing it and deploying is
   * a planned switchover: the writer is fenced (read-only, its router sessions closed), the other
   * node catches up and is promoted, the old writer replicates from it. After an automatic
   * failover the writer stays where it is until this prop changes again.
   * @default "primary"
   */
  readonly writer?: DatabaseRole;
  /** Automatic failover. @default { afterSeconds: 5, catchUpTimeoutSeconds: 30 } (automatic with semi-sync) */
  readonly failover?: DatabaseFailoverProps;
  /** The router's image (HAProxy 2.6+ with bash). @default "haproxy:3.0" */
  readonly routerImage?: string;
  /**
   * The image the failover agent (a Go program, assets/db-failover) is compiled in on the Docker
   * host; it then runs in `image`, whose client and dump tool it uses. Go 1.22 or later.
   * @default "golang:1.24"
   */
  readonly agentBuilderImage?: string;
  /**
   * The management network: the router joins it and serves its Prometheus metrics (which node
   * each endpoint sends to) only there, at `routerMetricsTarget`; its writer and reader ports
   * then listen only on `network`. Monitoring scrapes them and alerts on an unrouted writer and
   * on a failover. DistributedWebStack passes its own when monitoring is on. @default none
   */
  readonly managementNetwork?: network.Network;
  /** Container and volume names start with this. @default the stack's id */
  readonly namePrefix?: string;
}

const settingValue = z.union([z.string(), z.number(), z.boolean()], { error: 'must be a string, number or boolean' });
// One non-aborting check, so the union reports it rather than its own catch-all message.
const SEMI_SYNC_TIMEOUT = 'must be a whole number of milliseconds between 100 and 86400000';
const semiSyncTimeout = z.number({ error: SEMI_SYNC_TIMEOUT }).refine((v) => Number.isInteger(v) && v >= 100 && v <= 86_400_000, { error: SEMI_SYNC_TIMEOUT });

/** Schemas the app's database must not be: the servers' own, and the library's (the heartbeat). */
const RESERVED_SCHEMAS = ['mysql', 'information_schema', 'performance_schema', 'sys', HEARTBEAT.database];
/** Accounts the app's and the replication user must not be: the servers' own, and the library's. */
const RESERVED_ACCOUNTS = ['root', 'mysql', 'mariadb', FAILOVER_USER, EXPORTER_USER, BACKUP_USER];
const account = sqlIdentifier.refine((n) => !RESERVED_ACCOUNTS.includes(n.toLowerCase()), {
  error: `must not be a server's own account or one the library creates (${RESERVED_ACCOUNTS.join(', ')})`,
});

const schema = propsSchema<MySqlPrimaryReplicaProps>()({
  network: dockerNetwork('the one both servers join'),
  engine: z.enum(['mysql', 'mariadb'], { error: 'must be "mysql" or "mariadb"' }).default('mysql'),
  image: imageRef.optional(),
  databaseName: sqlIdentifier
    .refine((n) => !RESERVED_SCHEMAS.includes(n.toLowerCase()), { error: `must not be a system schema or the library's own (${RESERVED_SCHEMAS.join(', ')})` })
    .default('app'),
  appUser: account.default('app'),
  replicationUser: account.default('repl'),
  // The reader endpoint listens on port + 1.
  port: intBetween(1, 65534).default(3306),
  serverIdBase: intBetween(1, 4_294_967_294).default(1),
  settings: z
    .record(z.string().regex(/^[a-z_][a-z0-9_-]*$/, { error: 'must be an option name such as "innodb_buffer_pool_size"' }), settingValue)
    .refine((r) => Object.values(r).every((v) => !/[\n\r]/.test(String(v))), { error: 'values must be on one line' })
    .default({}),
  guardedSettingOverrides: z
    .record(z.string().regex(/^[a-z_][a-z0-9_-]*$/, { error: 'must be an option name such as "sync_binlog"' }), settingValue)
    .refine((r) => Object.values(r).every((v) => !/[\n\r]/.test(String(v))), { error: 'values must be on one line' })
    .default({}),
  semiSync: z
    .union([z.literal(false), propsSchema<Exclude<MySqlPrimaryReplicaProps['semiSync'], false | undefined>>()({ timeoutMs: semiSyncTimeout.default(10_000) })], { error: 'must be false or { timeoutMs: number }' })
    .prefault({}),
  tls: z.boolean({ error: 'must be true or false' }).default(false),
  memoryMb: intBetween(256, 1_048_576).default(1024),
  writer: z.enum(['primary', 'replica'], { error: 'must be "primary" or "replica"' }).default('primary'),
  failover: propsSchema<DatabaseFailoverProps>()({
    automatic: z.boolean({ error: 'must be true or false' }).optional(),
    afterSeconds: intBetween(2, 3600).default(5),
    catchUpTimeoutSeconds: intBetween(1, 3600).default(30),
  }).prefault({}),
  routerImage: imageRef.default(DEFAULT_IMAGES.haproxy),
  agentBuilderImage: imageRef.default(DEFAULT_IMAGES.golang),
  managementNetwork: dockerNetwork('the management network').optional(),
  namePrefix: namePrefix.optional(),
});
/** The props' checks and defaults, for the tests (src/index.ts does not export it). */
export const mySqlPrimaryReplicaPropsSchema = schema;

/**
 * Docker's DNS forwards a name it does not know (a container that is gone) to the host's
 * resolvers, which can take 10-20 s to fail; a replica retrying its lost source, or the agent
 * probing it, must learn sooner. Known names are answered locally in milliseconds.
 */
const FAST_DNS = ['timeout:1', 'attempts:1'];

/** The failover agent's program (Go), built on the Docker host. */
const AGENT_CONTEXT = resolve(__dirname, '..', '..', 'assets', 'db-failover');

/**
 * A writer whose container is gone (its Docker DNS name does not resolve: it is not running and
 * can take no write from anyone) is failed over after this, not after failover.afterSeconds.
 */
const GONE_AFTER_SECONDS = 1;

/** The router's metrics port, on the management network. */
const ROUTER_METRICS_PORT = 8405;

const CA_VALIDITY_DAYS = 3650;
const SERVER_CERT_VALIDITY_DAYS = 365;
const SERVER_CERT_RENEWAL_DAYS = 30;

/** The TLS resources of a MySqlPrimaryReplica with tls on. */
export interface DatabaseTls {
  readonly caKey: privateKey.PrivateKey;
  readonly caCertificate: selfSignedCert.SelfSignedCert;
  /** By role: each server's key and its certificate signed by the CA. */
  readonly servers: Readonly<Record<DatabaseRole, { readonly key: privateKey.PrivateKey; readonly certificate: locallySignedCert.LocallySignedCert }>>;
}

/** One database server: its container, data volume and rendered files. */
export interface DatabaseServer {
  readonly role: DatabaseRole;
  readonly container: container.Container;
  readonly volume: volume.Volume;
  /** Its Docker DNS name. */
  readonly host: string;
}

/**
 * A MySQL (or MariaDB) primary and a read-only replica. GTID replication is set up on first
 * start by the library's own entrypoint; data lives on named volumes.
 */
export class MySqlPrimaryReplica extends Construct implements IDatabaseConnection {
  readonly engine: DatabaseEngine;
  readonly primary: DatabaseServer;
  readonly replica: DatabaseServer;
  readonly image: image.Image;
  readonly rootPassword: password.Password;
  readonly replicationPassword: password.Password;
  readonly appPassword: password.Password;
  private monitoringPassword: password.Password | undefined;
  readonly writerHost: string;
  readonly readerHost: string;
  readonly port: number;
  readonly readerPort: number;
  /** The writer and reader endpoints: HAProxy, routing as the failover agent says. */
  readonly router: container.Container;
  /** host:port of the router's Prometheus metrics on the management network, if it has one. */
  readonly routerMetricsTarget?: string;
  /** host:port of the failover agent's Prometheus metrics on the management network, if it has one. */
  readonly failoverMetricsTarget?: string;
  /** The failover agent's image: built on the Docker host from assets/db-failover. */
  readonly failoverAgentImage: image.Image;
  /** The node the `writer` prop names (its Docker DNS name): where writes go unless it failed. */
  readonly configuredWriterHost: string;
  /** The failover agent: picks the writer, fences, promotes, rejoins; writes the heartbeat. */
  readonly failoverAgent: container.Container;
  readonly failoverPassword: password.Password;
  /** The route files the failover agent writes (which node takes writes, which reads), for readers such as the backup. */
  readonly routesVolume: volume.Volume;
  /** The image reference as written (image.name is a token): what derived images are tagged by. */
  readonly imageReference: string;
  /** The Go image programs for the nodes are compiled in (the failover agent, the backup program). */
  readonly builderImage: string;
  /** server_id of the primary; the replica has the next one. */
  readonly serverIdBase: number;
  readonly databaseName: string;
  readonly user: string;
  readonly password: string;
  readonly network: network.Network;
  /** The CA certificate (PEM) clients verify the servers against; undefined when tls is off. */
  readonly caCertificatePem?: string;
  /** The CA and server certificates; undefined when tls is off. */
  readonly tls?: DatabaseTls;
  /**
   * Where a client container should put `caCertificatePem`, for tools that take a path (e.g.
   * mysqld_exporter's `ssl-ca`).
   */
  static readonly CLIENT_CA_FILE = '/run/secrets/db-ca.pem';
  private readonly exporters: string[] = [];
  private readonly backups: string[] = [];
  private backupSecret: password.Password | undefined;

  constructor(scope: Construct, id: string, props: MySqlPrimaryReplicaProps) {
    const path = childPath(scope, id);
    const p = parseProps(schema, props, path);
    const prefix = namePrefixFor(scope, path, p.namePrefix);
    // Every cross-field check before super(): a refused construct leaves nothing in the tree.
    for (const [key, value] of Object.entries(p.settings)) {
      const guarded = guardedSetting(key);
      if (guarded) {
        throw new ValidationError(path, `settings.${key}`, `is an option the library's guarantees rest on (${guarded}: failover, fencing, durability or TLS); to override it anyway, set it in guardedSettingOverrides (got ${JSON.stringify(value)})`);
      }
    }
    if (p.appUser.toLowerCase() === p.replicationUser.toLowerCase()) {
      throw new ValidationError(path, 'replicationUser', `must differ from appUser: the accounts have different privileges (got ${JSON.stringify(p.replicationUser)})`);
    }
    const automatic = p.failover.automatic ?? p.semiSync !== false;
    if (automatic && p.semiSync === false) {
      throw new ValidationError(path, 'failover.automatic', 'needs semiSync: without it the replica may lack acknowledged writes (got true with semiSync false)');
    }
    // A writer cut off from the agent and the replica but not from the router holds commits for up
    // to the semi-sync timeout before it acknowledges them without the replica: the router must
    // have cut it off (failover, plus up to 3 s of checks) before that, or such a write is lost.
    if (automatic && p.semiSync !== false && (p.failover.afterSeconds + 3) * 1000 > p.semiSync.timeoutMs) {
      throw new ValidationError(
        path,
        'failover.afterSeconds',
        `must be at least 3 s below the semi-sync timeout (${p.semiSync.timeoutMs} ms), so the old writer is cut off before it acknowledges a write without the replica (got ${p.failover.afterSeconds})`,
      );
    }
    super(scope, id);
    ensureDockerProvider(this);
    ensureRandomProvider(this);
    this.engine = p.engine;
    this.network = p.network as network.Network;
    this.port = p.port;
    this.readerPort = p.port + 1;
    this.databaseName = p.databaseName;
    this.imageReference = p.image ?? DEFAULT_IMAGES[p.engine];
    this.builderImage = p.agentBuilderImage;
    this.serverIdBase = p.serverIdBase;
    this.user = p.appUser;
    const hosts: Record<DatabaseRole, string> = { primary: `${prefix}-db-primary`, replica: `${prefix}-db-replica` };
    const routerName = `${prefix}-db-router`;
    const agentName = `${prefix}-db-failover`;
    this.writerHost = routerName;
    this.readerHost = routerName;
    this.configuredWriterHost = hosts[p.writer];
    const mgmt = p.managementNetwork as network.Network | undefined;
    // Aliases each network resolves on its own, so HAProxy binds each frontend to one network.
    const routerOn = { data: `${routerName}-data`, mgmt: `${routerName}-mgmt` };
    this.routerMetricsTarget = mgmt ? `${routerOn.mgmt}:${ROUTER_METRICS_PORT}` : undefined;
    const agentOnMgmt = `${agentName}-mgmt`;
    this.failoverMetricsTarget = mgmt ? `${agentOnMgmt}:${FAILOVER_METRICS_PORT}` : undefined;

    this.rootPassword = this.newSecret('RootPassword');
    this.replicationPassword = this.newSecret('ReplicationPassword');
    this.appPassword = this.newSecret('AppPassword');
    this.failoverPassword = this.newSecret('FailoverPassword');
    this.password = this.appPassword.result;

    const semiSyncTimeoutMs = p.semiSync === false ? undefined : p.semiSync.timeoutMs;
    if (p.tls) {
      this.tls = this.certificates(prefix, hosts, routerName);
      this.caCertificatePem = this.tls.caCertificate.certPem;
    }
    const tls = this.tls;
    const tlsFiles = tls ? DB_TLS_FILES : undefined;
    this.image = registryImage(this, 'Image', p.image ?? DEFAULT_IMAGES[p.engine]);
    const server = (role: DatabaseRole, serverId: number, host: string, after?: container.Container): DatabaseServer => {
      const model = {
        engine: p.engine,
        role,
        port: p.port,
        databaseName: p.databaseName,
        appUser: p.appUser,
        replicationUser: p.replicationUser,
        primaryHost: hosts.primary,
        // Either node may replicate from the other; apps come only through the router.
        replicationUserHosts: [containerHostPattern(hosts.primary), containerHostPattern(hosts.replica)],
        appUserHosts: [containerHostPattern(routerName)],
        failoverUserHosts: [containerHostPattern(agentName)],
        tls: tlsFiles,
      };
      // Lazy: exporters allowed after construction are included.
      const entrypoint = Lazy.stringValue({
        produce: () => terraformLiteral(renderDbEntrypoint({ ...model, exporterUserHosts: this.exporters.map(containerHostPattern), backupUserHosts: this.backups.map(containerHostPattern) })),
      });
      const roleId = role === 'primary' ? 'Primary' : 'Replica';
      const vol = new volume.Volume(this, `${roleId}Data`, { name: `${host}-data` });
      const health: HealthcheckSpec = {
        test: dbHealthcheckCommand(p.engine, p.port, p.tls),
        intervalSeconds: 2,
        timeoutSeconds: 5,
        startPeriodSeconds: 300,
        retries: 5,
      };
      const secrets = [
        [DB_SECRET_FILES.root, this.rootPassword],
        [DB_SECRET_FILES.replication, this.replicationPassword],
        ...(role === 'primary'
          ? [
              [DB_SECRET_FILES.app, this.appPassword] as const,
              [DB_SECRET_FILES.failover, this.failoverPassword] as const,
            ]
          : []),
      ] as const;
      const secretUploads = () => [
        ...secrets,
        // Only the primary creates accounts (the replica replays them).
        ...(role === 'primary' && this.exporterPassword ? [[DB_SECRET_FILES.exporter, this.exporterPassword] as const] : []),
        ...(role === 'primary' && this.backupSecret ? [[DB_SECRET_FILES.backup, this.backupSecret] as const] : []),
      ];
      const c = stackContainer(this, roleId, {
        name: host,
        image: this.image.imageId,
        entrypoint: [DB_PATHS.entrypoint],
        // Lazy: the exporter's password file exists only once an exporter is allowed.
        upload: Lazy.anyValue({
          produce: () => [
            { file: DB_PATHS.config, content: terraformLiteral(renderMyCnf({ engine: p.engine, role, serverId, port: p.port, semiSyncTimeoutMs, tls: tlsFiles, extraSettings: { ...p.settings, ...p.guardedSettingOverrides } })) },
            { file: DB_PATHS.entrypoint, content: entrypoint, executable: true },
            // The key is uploaded root-only; the entrypoint hands it to the mysql user.
            ...(tls
              ? [
                  { file: DB_TLS_FILES.ca, content: tls.caCertificate.certPem, permissions: '0444' },
                  { file: DB_TLS_FILES.cert, content: tls.servers[role].certificate.certPem, permissions: '0444' },
                  { file: DB_TLS_FILES.key, content: tls.servers[role].key.privateKeyPem, permissions: '0600' },
                ]
              : []),
            ...secretUploads().map(([file, pw]) => ({ file: `${DB_PATHS.secrets}/${file}`, content: pw.result, permissions: '0600' })),
          ],
        }),
        networksAdvanced: [{ name: this.network.name, aliases: [host] }],
        dnsOpts: FAST_DNS,
        mounts: [{ type: 'volume', source: vol.name, target: DB_PATHS.dataDir }],
        // The entrypoint (root) prepares the mysql-owned data directory, then the server drops
        // to the mysql user: CHOWN, DAC_OVERRIDE and FOWNER for the first, SETUID/SETGID for it.
        addCapabilities: ['CHOWN', 'DAC_OVERRIDE', 'FOWNER', 'SETUID', 'SETGID'],
        memoryMb: p.memoryMb,
        destroyGraceSeconds: 60,
        health,
        role: `database-${role}`,
        wait: true,
        waitTimeout: 600,
        dependsOn: after ? [after] : undefined,
      });
      return { role, container: c, volume: vol, host };
    };
    this.primary = server('primary', p.serverIdBase, hosts.primary);
    // The replica replays the primary's log from the start: the primary must be up first.
    this.replica = server('replica', p.serverIdBase + 1, hosts.replica, this.primary.container);

    // The agent and the router share the route files on a volume; the router only reads them.
    const routes = (this.routesVolume = new volume.Volume(this, 'Routes', { name: `${prefix}-db-routes` }));
    const routeMount = (readOnly: boolean): container.ContainerMounts => ({ type: 'volume', source: routes.name, target: ROUTE_DIR, readOnly });
    const agentHealth: HealthcheckSpec = {
      // Healthy once a writer is routed (the deploy waits for it).
      test: ['CMD', 'bash', '-c', `read -r w < ${ROUTE_DIR}/writer && [ -n "$w" ]`],
      intervalSeconds: 1,
      timeoutSeconds: 2,
      startPeriodSeconds: 120,
      retries: 3,
    };
    const builder = p.agentBuilderImage;
    this.failoverAgentImage = new image.Image(this, 'FailoverAgentImage', {
      // The image reference as written (this.image.name is a token that differs between synths).
      name: `${prefix}-db-failover:${shortHash(p.image ?? DEFAULT_IMAGES[p.engine], builder, hashDirectory(AGENT_CONTEXT))}`,
      buildAttribute: { context: AGENT_CONTEXT, buildArgs: { BUILDER_IMAGE: builder, BASE_IMAGE: this.image.name } },
      triggers: { base: this.image.imageId },
    });
    this.failoverAgent = stackContainer(this, 'FailoverAgent', {
      name: agentName,
      image: this.failoverAgentImage.imageId,
      user: 'root',
      upload: [
        {
          file: FAILOVER_PATHS.config,
          content: renderFailoverConfig({
              engine: p.engine,
              nodes: [hosts.primary, hosts.replica],
              port: p.port,
              wantedWriter: hosts[p.writer],
              automatic,
              failoverAfterSeconds: p.failover.afterSeconds,
              goneAfterSeconds: GONE_AFTER_SECONDS,
              catchUpTimeoutSeconds: p.failover.catchUpTimeoutSeconds,
              rebuildTimeoutSeconds: 3600,
              replicationUser: p.replicationUser,
              tls: p.tls,
              semiSync: p.semiSync !== false,
              ...(mgmt ? { metricsAddress: this.failoverMetricsTarget } : {}),
            }),
        },
        { file: `${FAILOVER_PATHS.secrets}/${DB_SECRET_FILES.failover}`, content: this.failoverPassword.result, permissions: '0600' },
        { file: `${FAILOVER_PATHS.secrets}/${DB_SECRET_FILES.replication}`, content: this.replicationPassword.result, permissions: '0600' },
        ...(tls ? [{ file: DB_TLS_FILES.ca, content: tls.caCertificate.certPem, permissions: '0444' }] : []),
      ],
      networksAdvanced: [{ name: this.network.name, aliases: [agentName] }, ...(mgmt ? [{ name: mgmt.name, aliases: [agentOnMgmt] }] : [])],
      dnsOpts: FAST_DNS,
      mounts: [routeMount(false)],
      memoryMb: 128,
      health: agentHealth,
      role: 'database-failover',
      // It exits at once on SIGTERM.
      destroyGraceSeconds: 10,
      wait: true,
      waitTimeout: 300,
      dependsOn: [this.primary.container, this.replica.container],
    });
    const routerHealth: HealthcheckSpec = {
      test: ['CMD', 'bash', '-c', `exec 3<>/dev/tcp/${mgmt ? routerOn.data : '127.0.0.1'}/${this.port}`],
      intervalSeconds: 5,
      timeoutSeconds: 3,
      startPeriodSeconds: 30,
      retries: 3,
    };
    this.router = stackContainer(this, 'Router', {
      name: routerName,
      image: registryImage(this, 'RouterImage', p.routerImage).imageId,
      entrypoint: ['haproxy', '-W', '-db', '-f', DB_ROUTER_PATHS.config],
      upload: [
        {
          file: DB_ROUTER_PATHS.config,
          content: renderDbRouterConfig({
            nodes: [hosts.primary, hosts.replica],
            nodePort: p.port,
            writerPort: this.port,
            readerPort: this.readerPort,
            resolver: DOCKER_DNS,
            maxConnections: 4000,
            ...(mgmt ? { listenAddress: routerOn.data, metrics: { address: routerOn.mgmt, port: ROUTER_METRICS_PORT } } : {}),
          }),
        },
        // Run by HAProxy's own user.
        { file: DB_ROUTER_PATHS.routeCheck, content: renderRouteCheck(), permissions: '0755' },
      ],
      networksAdvanced: [
        { name: this.network.name, aliases: [routerName, ...(mgmt ? [routerOn.data] : [])] },
        ...(mgmt ? [{ name: mgmt.name, aliases: [routerOn.mgmt] }] : []),
      ],
      mounts: [routeMount(true)],
      // The image's own unprivileged user; the ports are above 1024.
      memoryMb: 128,
      // Alive: HAProxy accepts on the writer port (whether or not a writer is routed).
      health: routerHealth,
      role: 'database-router',
      // hard-stop-after 10s.
      destroyGraceSeconds: 15,
    });
  }

  /** A private CA, and a certificate for each server's Docker DNS name signed by it. */
  private certificates(prefix: string, hosts: Record<DatabaseRole, string>, routerName: string): DatabaseTls {
    ensureTlsProvider(this);
    const caKey = new privateKey.PrivateKey(this, 'TlsCaKey', { algorithm: 'ECDSA', ecdsaCurve: 'P256' });
    const caCertificate = new selfSignedCert.SelfSignedCert(this, 'TlsCa', {
      privateKeyPem: caKey.privateKeyPem,
      subject: [{ commonName: `${prefix} database CA` }],
      isCaCertificate: true,
      validityPeriodHours: CA_VALIDITY_DAYS * 24,
      allowedUses: ['cert_signing', 'crl_signing', 'digital_signature'],
    });
    // Clients reach either node through the router: each certificate names it too.
    const server = (roleId: string, host: string) => {
      const key = new privateKey.PrivateKey(this, `${roleId}TlsKey`, { algorithm: 'ECDSA', ecdsaCurve: 'P256' });
      const request = new certRequest.CertRequest(this, `${roleId}TlsRequest`, { privateKeyPem: key.privateKeyPem, subject: [{ commonName: host }], dnsNames: [host, routerName] });
      const certificate = new locallySignedCert.LocallySignedCert(this, `${roleId}TlsCertificate`, {
        certRequestPem: request.certRequestPem,
        caPrivateKeyPem: caKey.privateKeyPem,
        caCertPem: caCertificate.certPem,
        validityPeriodHours: SERVER_CERT_VALIDITY_DAYS * 24,
        earlyRenewalHours: SERVER_CERT_RENEWAL_DAYS * 24,
        allowedUses: ['digital_signature', 'key_encipherment', 'server_auth'],
      });
      return { key, certificate };
    };
    return { caKey, caCertificate, servers: { primary: server('Primary', hosts.primary), replica: server('Replica', hosts.replica) } };
  }

  /**
   * Lets a mysqld_exporter container (by its name) log in as the monitoring user (PROCESS,
   * replication status, SELECT; at most 3 connections). Accounts are created on first start.
   */
  allowExporter(containerName: string): void {
    addContainerName(this.node.path, this.exporters, containerName, 'exporter', 'web-db-primary-exporter');
    this.monitoringPassword ??= this.newSecret('ExporterPassword');
  }

  /**
   * Lets the backup program's container (by its name) log in as the backup user. Accounts are
   * created on first start: allow it before the first deploy (DatabaseBackup does).
   */
  allowBackup(containerName: string): password.Password {
    addContainerName(this.node.path, this.backups, containerName, 'backup', 'web-db-backup');
    return (this.backupSecret ??= this.newSecret('BackupPassword'));
  }

  /** The monitoring user's password (mysqld_exporter), once an exporter is allowed. */
  get exporterPassword(): password.Password | undefined {
    return this.monitoringPassword;
  }

  /** Letters and digits only: safe in SQL and shell without quoting rules. */
  private newSecret(id: string): password.Password {
    return new password.Password(this, id, { length: 32, special: false });
  }
}

/** Adds a container name to an account's host list once; a malformed name is refused. */
function addContainerName(path: string, list: string[], name: string, field: string, example: string): void {
  if (!dockerName.safeParse(name).success) {
    throw new ValidationError(path, field, `must be a container name such as "${example}" (got ${JSON.stringify(name)})`);
  }
  if (!list.includes(name)) list.push(name);
}
