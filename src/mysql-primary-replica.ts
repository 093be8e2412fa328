import { container, image, network, volume } from '@cdktf/provider-docker';
import { password } from '@cdktf/provider-random';
import { certRequest, locallySignedCert, privateKey, selfSignedCert } from '@cdktf/provider-tls';
import { Lazy } from 'cdktf';
import { Construct } from 'constructs';
import { z } from 'zod';
import {
  DB_PATHS,
  DB_SECRET_FILES,
  DB_TLS_FILES,
  DatabaseEngine,
  DatabaseRole,
  dbHealthcheckCommand,
  renderDbEntrypoint,
  containerHostPattern,
  renderMyCnf,
} from './config/mysql';
import { defaultNamePrefix, ensureDockerProvider, ensureRandomProvider, ensureTlsProvider, hardening, memoryLimit, healthcheck, terraformLiteral } from './docker';
import { ValidationError } from './errors';
import { DEFAULT_IMAGES, registryImage } from './images';
import { childPath, dockerName, imageRef, intBetween, parseProps, sqlIdentifier } from './validation';

/** What an application needs to use a database: the writer and reader endpoints. */
export interface IDatabaseConnection {
  /** Docker DNS name for writes (the primary). */
  readonly writerHost: string;
  /** Docker DNS name for reads (the replica). */
  readonly readerHost: string;
  readonly port: number;
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
  /**
   * Lets a client container (by its name) log in as the application user. A name ending in "-*"
   * allows every container named "<name>-<suffix>" (containers replaced create-before-destroy).
   */
  allowClient?(containerName: string): void;
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
  /** Extra [mysqld] settings for both servers, e.g. { innodb_buffer_pool_size: "256M" }. @default none */
  readonly settings?: Record<string, string | number | boolean>;
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
   * Containers (by name) the application user may connect from; more with allowClient()
   * (AppServerPair registers its app containers). "name-*" allows every "name-<suffix>". Accounts are created on first start.
   * @default none: from any host on the database network
   */
  readonly clients?: string[];
  /** Container and volume names start with this. @default the stack's id */
  readonly namePrefix?: string;
}

const settingValue = z.union([z.string(), z.number(), z.boolean()], { error: 'must be a string, number or boolean' });
// One non-aborting check, so the union reports it rather than its own catch-all message.
const SEMI_SYNC_TIMEOUT = 'must be a whole number of milliseconds between 100 and 86400000';
const semiSyncTimeout = z.number({ error: SEMI_SYNC_TIMEOUT }).refine((v) => Number.isInteger(v) && v >= 100 && v <= 86_400_000, { error: SEMI_SYNC_TIMEOUT });
// "name-*": every container named "name-<suffix>" (AppServerPair's generations).
const clientName = z.string().refine((n) => dockerName.safeParse(n.replace(/-\*$/, '')).success, {
  error: 'must be a container name such as "web-server-1-app", or "web-server-1-app-*" for every generation of it',
});

const schema = z.strictObject({
  network: z.any().refine((n) => n !== undefined && n !== null, { error: 'is required: the docker network both servers join' }),
  engine: z.enum(['mysql', 'mariadb'], { error: 'must be "mysql" or "mariadb"' }).default('mysql'),
  image: imageRef.optional(),
  databaseName: sqlIdentifier.default('app'),
  appUser: sqlIdentifier.default('app'),
  replicationUser: sqlIdentifier.default('repl'),
  port: intBetween(1, 65535).default(3306),
  serverIdBase: intBetween(1, 4_294_967_294).default(1),
  settings: z
    .record(z.string().regex(/^[a-z_][a-z0-9_-]*$/, { error: 'must be an option name such as "innodb_buffer_pool_size"' }), settingValue)
    .refine((r) => Object.values(r).every((v) => !/[\n\r]/.test(String(v))), { error: 'values must be on one line' })
    .default({}),
  semiSync: z
    .union([z.literal(false), z.strictObject({ timeoutMs: semiSyncTimeout.default(10_000) })], { error: 'must be false or { timeoutMs: number }' })
    .default({ timeoutMs: 10_000 }),
  tls: z.boolean({ error: 'must be true or false' }).default(false),
  memoryMb: intBetween(256, 1_048_576).default(1024),
  clients: z.array(clientName).default([]),
  namePrefix: dockerName.optional(),
});

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
  private readonly clients: string[];
  private readonly exporters: string[] = [];

  constructor(scope: Construct, id: string, props: MySqlPrimaryReplicaProps) {
    const p = parseProps(schema, props, childPath(scope, id));
    super(scope, id);
    ensureDockerProvider(this);
    ensureRandomProvider(this);
    const prefix = p.namePrefix ?? defaultNamePrefix(this);
    this.engine = p.engine;
    this.network = p.network as network.Network;
    this.port = p.port;
    this.databaseName = p.databaseName;
    this.user = p.appUser;
    this.clients = [...p.clients];
    this.writerHost = `${prefix}-db-primary`;
    this.readerHost = `${prefix}-db-replica`;

    this.rootPassword = this.newSecret('RootPassword');
    this.replicationPassword = this.newSecret('ReplicationPassword');
    this.appPassword = this.newSecret('AppPassword');
    this.password = this.appPassword.result;

    const semiSyncTimeoutMs = p.semiSync === false ? undefined : p.semiSync.timeoutMs;
    if (p.tls) {
      this.tls = this.certificates(prefix);
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
        primaryHost: this.writerHost,
        replicationUserHosts: [containerHostPattern(this.readerHost)],
        tls: tlsFiles,
      };
      // Lazy: clients registered after construction (allowClient) are included.
      const entrypoint = Lazy.stringValue({
        produce: () => {
          const appUserHosts = this.clients.length ? this.clients.map(containerHostPattern) : ['%'];
          return terraformLiteral(renderDbEntrypoint({ ...model, appUserHosts, exporterUserHosts: this.exporters.map(containerHostPattern) }));
        },
      });
      const roleId = role === 'primary' ? 'Primary' : 'Replica';
      const vol = new volume.Volume(this, `${roleId}Data`, { name: `${host}-data` });
      const hc = healthcheck({
        test: dbHealthcheckCommand(p.engine, p.port, p.tls),
        intervalSeconds: 2,
        timeoutSeconds: 5,
        startPeriodSeconds: 300,
        retries: 5,
      });
      const secrets = [
        [DB_SECRET_FILES.root, this.rootPassword],
        [DB_SECRET_FILES.replication, this.replicationPassword],
        ...(role === 'primary' ? [[DB_SECRET_FILES.app, this.appPassword] as const] : []),
      ] as const;
      const secretUploads = () => [
        ...secrets,
        // Only the primary creates accounts (the replica replays them).
        ...(role === 'primary' && this.exporterPassword ? [[DB_SECRET_FILES.exporter, this.exporterPassword] as const] : []),
      ];
      const c = new container.Container(this, roleId, {
        name: host,
        image: this.image.imageId,
        entrypoint: [DB_PATHS.entrypoint],
        // Lazy: the exporter's password file exists only once an exporter is allowed.
        upload: Lazy.anyValue({
          produce: () => [
            { file: DB_PATHS.config, content: terraformLiteral(renderMyCnf({ engine: p.engine, role, serverId, port: p.port, semiSyncTimeoutMs, tls: tlsFiles, extraSettings: p.settings })) },
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
        mounts: [{ type: 'volume', source: vol.name, target: DB_PATHS.dataDir }],
        // The entrypoint (root) prepares the mysql-owned data directory, then the server drops
        // to the mysql user: CHOWN, DAC_OVERRIDE and FOWNER for the first, SETUID/SETGID for it.
        ...hardening(['CHOWN', 'DAC_OVERRIDE', 'FOWNER', 'SETUID', 'SETGID']),
        ...memoryLimit(p.memoryMb),
        restart: 'unless-stopped',
        destroyGraceSeconds: 60,
        healthcheck: hc.healthcheck,
        labels: [hc.label, { label: 'dws.role', value: `database-${role}` }],
        wait: true,
        waitTimeout: 600,
        dependsOn: after ? [after] : undefined,
      });
      return { role, container: c, volume: vol, host };
    };
    this.primary = server('primary', p.serverIdBase, this.writerHost);
    // The replica replays the primary's log from the start: the primary must be up first.
    this.replica = server('replica', p.serverIdBase + 1, this.readerHost, this.primary.container);
  }

  /** A private CA, and a certificate for each server's Docker DNS name signed by it. */
  private certificates(prefix: string): DatabaseTls {
    ensureTlsProvider(this);
    const caKey = new privateKey.PrivateKey(this, 'TlsCaKey', { algorithm: 'ECDSA', ecdsaCurve: 'P256' });
    const caCertificate = new selfSignedCert.SelfSignedCert(this, 'TlsCa', {
      privateKeyPem: caKey.privateKeyPem,
      subject: [{ commonName: `${prefix} database CA` }],
      isCaCertificate: true,
      validityPeriodHours: CA_VALIDITY_DAYS * 24,
      allowedUses: ['cert_signing', 'crl_signing', 'digital_signature'],
    });
    const server = (roleId: string, host: string) => {
      const key = new privateKey.PrivateKey(this, `${roleId}TlsKey`, { algorithm: 'ECDSA', ecdsaCurve: 'P256' });
      const request = new certRequest.CertRequest(this, `${roleId}TlsRequest`, { privateKeyPem: key.privateKeyPem, subject: [{ commonName: host }], dnsNames: [host] });
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
    return { caKey, caCertificate, servers: { primary: server('Primary', this.writerHost), replica: server('Replica', this.readerHost) } };
  }

  /**
   * Lets a mysqld_exporter container (by its name) log in as the monitoring user (PROCESS,
   * replication status, SELECT; at most 3 connections). Accounts are created on first start.
   */
  allowExporter(containerName: string): void {
    addContainerName(this.node.path, this.exporters, containerName, 'exporter', 'web-db-primary-exporter');
    this.monitoringPassword ??= this.newSecret('ExporterPassword');
  }

  /** The monitoring user's password (mysqld_exporter), once an exporter is allowed. */
  get exporterPassword(): password.Password | undefined {
    return this.monitoringPassword;
  }

  /** Lets a client container (by its name) log in as the application user. */
  allowClient(containerName: string): void {
    addContainerName(this.node.path, this.clients, containerName, 'client', 'web-server-1-app');
  }

  /** Letters and digits only: safe in SQL and shell without quoting rules. */
  private newSecret(id: string): password.Password {
    return new password.Password(this, id, { length: 32, special: false });
  }
}

/** Adds a container name to an account's host list once; a malformed name is refused. */
function addContainerName(path: string, list: string[], name: string, field: string, example: string): void {
  if (!clientName.safeParse(name).success) {
    throw new ValidationError(path, field, `must be a container name such as "${example}" (got ${JSON.stringify(name)})`);
  }
  if (!list.includes(name)) list.push(name);
}
