import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { container, network, volume } from '@cdktf/provider-docker';
import { password } from '@cdktf/provider-random';
import { Fn, Lazy } from 'cdktf';
import type { DatabaseBackup } from '../database/database-backup';
import { Construct } from 'constructs';
import { z } from 'zod';
import { AppServerPair } from '../app-servers/app-server-pair';
import { AlertReceiver, renderAlertmanagerConfig } from './render/alertmanager';
import { HTTPS_PROBE_MODULE, renderBlackboxConfig } from './render/blackbox';
import { DASHBOARD_FILES, dashboardsDir, renderGrafanaDashboardProvider, renderGrafanaDatasource } from './render/grafana';
import { EXPORTER_USER, HEARTBEAT } from '../database/render/mysql';
import { AlertThresholds, DEFAULT_ALERT_THRESHOLDS, ProbeJob, renderAlertRules, renderPrometheusConfig, ScrapeJob } from './render/prometheus';
import { HealthcheckSpec, namePrefixFor, ensureDockerProvider, ensureRandomProvider, stackContainer, terraformLiteral } from '../private/docker';
import { ValidationError } from '../errors';
import { registryImage } from '../private/images';
import { LoadBalancer } from '../load-balancer/load-balancer';
import { MySqlPrimaryReplica } from '../database/mysql-primary-replica';
import { propsSchema } from '../private/props-schema';
import { childPath, isToken, imageRef, intBetween, parseProps, namePrefix, dockerNetwork, databaseConnection } from '../private/validation';

/** Images of the monitoring stack; each defaults to a pinned official image. */
export interface MonitoringImages {
  readonly prometheus?: string;
  readonly alertmanager?: string;
  readonly mysqldExporter?: string;
  readonly nginxExporter?: string;
  readonly blackboxExporter?: string;
  readonly nodeExporter?: string;
  readonly grafana?: string;
}

export interface MonitoringProps {
  /** Where Prometheus, Alertmanager and the exporters live; make it `internal`. */
  readonly managementNetwork: network.Network;
  /** Scraped at its statistics endpoint (give it the same managementNetwork); its URL is probed. */
  readonly loadBalancer?: LoadBalancer;
  /** The network the public URL is probed from (where clients are). Required with loadBalancer. */
  readonly probeNetwork?: network.Network;
  /** One nginx exporter per server (give the pair the same managementNetwork). */
  readonly appServers?: AppServerPair;
  /** One mysqld_exporter per server, each with its own least-privileged account. */
  readonly database?: MySqlPrimaryReplica;
  /** Its backups: scraped (give it the same managementNetwork) for BackupTooOld and BinlogArchiveBehind. */
  readonly backup?: DatabaseBackup;
  /**
   * node_exporter for the Docker host's CPU, memory and disks: it mounts the host's `/`
   * read-only at /host. @default true
   */
  readonly hostMetrics?: boolean;
  /** Where alerts go; every receiver gets every alert. @default none (alerts show in Alertmanager only) */
  readonly receivers?: AlertReceiver[];
  /** Alert thresholds. @default DEFAULT_ALERT_THRESHOLDS */
  readonly thresholds?: Partial<AlertThresholds>;
  /** @default 15 */
  readonly scrapeIntervalSeconds?: number;
  /** @default 15 */
  readonly retentionDays?: number;
  /** Name the load balancer's certificate is checked against by the probe. @default "localhost" */
  readonly probeServerName?: string;
  readonly images?: MonitoringImages;
  /**
   * Grafana with the Prometheus datasource and the dashboards shipped in this package
   * (assets/dashboards: HAProxy, Nginx, MySQL, host), on the management network. @default false
   */
  readonly grafana?: boolean;
  /** @default 512 */
  readonly prometheusMemoryMb?: number;
  /** Container names start with this. @default the stack's id */
  readonly namePrefix?: string;
}

export const DEFAULT_MONITORING_IMAGES = {
  prometheus: 'prom/prometheus:v2.53.3',
  alertmanager: 'prom/alertmanager:v0.28.1',
  mysqldExporter: 'prom/mysqld-exporter:v0.17.2',
  nginxExporter: 'nginx/nginx-prometheus-exporter:1.4.1',
  blackboxExporter: 'prom/blackbox-exporter:v0.26.0',
  nodeExporter: 'prom/node-exporter:v1.9.0',
  grafana: 'grafana/grafana-oss:11.6.0',
} as const;

const receiver = z.union(
  [
    propsSchema<Extract<AlertReceiver, { webhook: unknown }>>()({ webhook: z.strictObject({ url: z.string({ error: 'must be a URL' }).refine((u) => isToken(u) || URL.canParse(u), { error: 'must be a URL' }) }) }),
    propsSchema<Extract<AlertReceiver, { email: unknown }>>()({
      email: propsSchema<Extract<AlertReceiver, { email: unknown }>['email']>()({
        to: z.string().min(3),
        from: z.string().min(3),
        smarthost: z.string().regex(/^[A-Za-z0-9.-]+:\d+$/, { error: 'must be host:port' }),
        authUsername: z.string().optional(),
        authPasswordFile: z.string().optional(),
      }),
    }),
    propsSchema<Extract<AlertReceiver, { slack: unknown }>>()({ slack: propsSchema<Extract<AlertReceiver, { slack: unknown }>['slack']>()({ apiUrlFile: z.string().min(1), channel: z.string().min(1) }) }),
    propsSchema<Extract<AlertReceiver, { pagerduty: unknown }>>()({ pagerduty: propsSchema<Extract<AlertReceiver, { pagerduty: unknown }>['pagerduty']>()({ routingKeyFile: z.string().min(1) }) }),
  ],
  { error: 'must be { webhook: { url } }, { email: {...} }, { slack: { apiUrlFile, channel } } or { pagerduty: { routingKeyFile } }' },
);

const schema = propsSchema<MonitoringProps>()({
  managementNetwork: dockerNetwork('the internal network monitoring lives on'),
  loadBalancer: z.any().optional(),
  probeNetwork: dockerNetwork('the network the public URL is probed from').optional(),
  appServers: z.any().optional(),
  database: databaseConnection.optional(),
  backup: z.custom<any>((b) => b instanceof Object && 'volumeName' in (b as object), { error: 'must be a DatabaseBackup' }).optional(),
  hostMetrics: z.boolean({ error: 'must be true or false' }).default(true),
  receivers: z.array(receiver).default([]),
  thresholds: propsSchema<Partial<AlertThresholds>>()({
    replicationLagSeconds: z.number().positive().optional(),
    http5xxRatio: z.number().gt(0).lt(1).optional(),
    responseTimeSeconds: z.number().positive().optional(),
    certificateExpiryDays: intBetween(1, 365).optional(),
    diskFreeRatio: z.number().gt(0).lt(1).optional(),
    memoryAvailableRatio: z.number().gt(0).lt(1).optional(),
  }).prefault({}),
  scrapeIntervalSeconds: intBetween(1, 300).default(15),
  retentionDays: intBetween(1, 3650).default(15),
  probeServerName: z.string().regex(/^[A-Za-z0-9.-]+$/, { error: 'must be a DNS name' }).default('localhost'),
  images: propsSchema<MonitoringImages>()({
    prometheus: imageRef.optional(),
    alertmanager: imageRef.optional(),
    mysqldExporter: imageRef.optional(),
    nginxExporter: imageRef.optional(),
    blackboxExporter: imageRef.optional(),
    nodeExporter: imageRef.optional(),
    grafana: imageRef.optional(),
  }).prefault({}),
  grafana: z.boolean({ error: 'must be true or false' }).default(false),
  prometheusMemoryMb: intBetween(64, 1_048_576).default(512),
  namePrefix: namePrefix.optional(),
});
/** The props' checks and defaults, for the tests (src/index.ts does not export it). */
export const monitoringPropsSchema = schema;

const CONF = '/etc/dws';
const WEBHOOK_URL_RULE = 'A Monitoring webhook receiver URL must be an http:// or https:// URL without spaces or single quotes: Alertmanager refuses any other and would not start.';
/** The same rule as a Terraform (RE2) regex, for a URL known only at plan; it sits in a single-quoted YAML string. */
const WEBHOOK_URL_AT_PLAN = "^[Hh][Tt][Tt][Pp][Ss]?://[^[:space:]']+$";
const PORTS = { prometheus: 9090, alertmanager: 9093, nginxExporter: 9113, mysqldExporter: 9104, blackbox: 9115, node: 9100 } as const;
const JOBS = { haproxy: 'haproxy', nginx: 'nginx', mysql: 'mysql', node: 'node', blackbox: 'blackbox', dbRouter: 'db-router', dbFailover: 'db-failover', dbBackup: 'db-backup' } as const;

/**
 * Prometheus and Alertmanager with an exporter for every component, on the management network:
 * HAProxy's own metrics, an nginx exporter per server, a mysqld_exporter per database server, a
 * node_exporter for the Docker host and a blackbox probe of the public URL. Alert rules use the
 * metric names of the database engine in use. Nothing is published on the host.
 */
export class Monitoring extends Construct {
  readonly prometheus: container.Container;
  readonly alertmanager: container.Container;
  /** Grafana, when `grafana: true`. */
  readonly grafana?: container.Container;
  /** Every exporter container, by role. */
  readonly exporters: container.Container[] = [];
  /** Prometheus's and Alertmanager's URLs on the management network. */
  readonly prometheusUrl: string;
  readonly alertmanagerUrl: string;
  /** The scrape jobs, as rendered. */
  readonly jobs: ScrapeJob[] = [];

  constructor(scope: Construct, id: string, props: MonitoringProps) {
    const path = childPath(scope, id);
    const p = parseProps(schema, props, path);
    const prefix = namePrefixFor(scope, path, p.namePrefix);
    (p.receivers as AlertReceiver[]).forEach((r, i) => {
      if ('webhook' in r && !isToken(r.webhook.url) && !/^https?:\/\//i.test(r.webhook.url)) {
        throw new ValidationError(path, `receivers.${i}.webhook.url`, `must be an http:// or https:// URL: Alertmanager refuses any other scheme and would not start (got ${JSON.stringify(r.webhook.url)})`);
      }
    });
    const lb = p.loadBalancer as LoadBalancer | undefined;
    if (lb && !lb.statsHost) {
      throw new ValidationError(path, 'loadBalancer', 'must have a managementNetwork (its statistics listen only there)');
    }
    if (lb && !p.probeNetwork) {
      throw new ValidationError(path, 'probeNetwork', 'is required with a loadBalancer: the network its public URL is probed from');
    }
    const servers = (p.appServers as AppServerPair | undefined)?.servers ?? [];
    if (servers.some((s) => !s.statusUrl)) {
      throw new ValidationError(path, 'appServers', 'must have a managementNetwork (each Nginx serves its status page only there)');
    }
    if (p.database && !(p.database as MySqlPrimaryReplica).routerMetricsTarget) {
      throw new ValidationError(path, 'database', 'must have a managementNetwork (its router serves its metrics only there)');
    }
    super(scope, id);
    ensureDockerProvider(this);
    const mgmt = p.managementNetwork as network.Network;
    const db = p.database as MySqlPrimaryReplica | undefined;
    const images = { ...DEFAULT_MONITORING_IMAGES, ...Object.fromEntries(Object.entries(p.images).filter(([, v]) => v)) };
    // One docker_image per distinct name (a mirror may serve every component from one image).
    const imageIds = new Map<string, string>();
    const img = (key: keyof typeof DEFAULT_MONITORING_IMAGES) => {
      const name = images[key];
      if (!imageIds.has(name)) imageIds.set(name, registryImage(this, `${key}Image`, name).imageId);
      return imageIds.get(name)!;
    };
    // Every monitoring container listens only on its management address: `<name>-mgmt`, an alias
    // that only the management network resolves (a blackbox exporter on the edge network would
    // otherwise let clients there probe anything).
    const at = (name: string, port: number) => `${name}-mgmt:${port}`;
    const onMgmt = (name: string, more: network.Network[] = []) => [...more.map((n) => ({ name: n.name })), { name: mgmt.name, aliases: [`${name}-mgmt`] }];
    const httpHealth = (name: string, port: number, path: string): HealthcheckSpec => ({
      test: ['CMD', 'wget', '-q', '-O', '/dev/null', `http://${at(name, port)}${path}`],
      intervalSeconds: 5,
      timeoutSeconds: 3,
      startPeriodSeconds: 30,
      retries: 3,
    });
    // Exporters and Prometheus need no capability and run as the images' unprivileged user.
    const base = (name: string, health: HealthcheckSpec | undefined, role: string) => ({ name, role, health, destroyGraceSeconds: 10 });

    if (lb) {
      this.jobs.push({ job: JOBS.haproxy, targets: lb.statsHosts.map((h) => `${h}:${lb.statsPort}`) });
    }
    servers.forEach((s) => {
      const name = `${s.host}-exporter`;
      this.exporters.push(
        stackContainer(this, `${s.name}NginxExporter`, {
          ...base(name, undefined, 'nginx-exporter'),
          image: img('nginxExporter'),
          entrypoint: ['/usr/bin/nginx-prometheus-exporter', `--nginx.scrape-uri=${s.statusUrl}`, `--web.listen-address=${at(name, PORTS.nginxExporter)}`],
          memoryMb: 64,
          networksAdvanced: onMgmt(name),
        }),
      );
    });
    if (servers.length) this.jobs.push({ job: JOBS.nginx, targets: servers.map((s) => at(`${s.host}-exporter`, PORTS.nginxExporter)) });

    if (db) {
      for (const server of [db.primary, db.replica]) {
        const name = `${server.host}-exporter`;
        db.allowExporter(name);
        const exporterPassword = db.exporterPassword!; // set by allowExporter
        const hc = httpHealth(name, PORTS.mysqldExporter, '/');
        this.exporters.push(
          stackContainer(this, `${server.role === 'primary' ? 'Primary' : 'Replica'}MysqldExporter`, {
            ...base(name, hc, 'mysqld-exporter'),
            image: img('mysqldExporter'),
            entrypoint: [
              '/bin/mysqld_exporter',
              `--config.my-cnf=${CONF}/exporter.cnf`,
              `--mysqld.address=${server.host}:${db.port}`,
              `--web.listen-address=${at(name, PORTS.mysqldExporter)}`,
              // Lag from the primary's heartbeat: mysql_heartbeat_now_timestamp_seconds - mysql_heartbeat_stored_timestamp_seconds.
              '--collect.heartbeat',
              `--collect.heartbeat.database=${HEARTBEAT.database}`,
              `--collect.heartbeat.table=${HEARTBEAT.table}`,
              '--collect.heartbeat.utc',
            ],
            // Read by the exporter's unprivileged user; only the exporter runs in this container.
            // With the database's TLS on, the exporter verifies its certificate like the apps do.
            // (mysqld_exporter drops a [client] section with any key it does not know.)
            upload: [
              { file: `${CONF}/exporter.cnf`, content: `[client]\nuser=${EXPORTER_USER}\npassword=${exporterPassword.result}\n${db.caCertificatePem ? `ssl-ca=${MySqlPrimaryReplica.CLIENT_CA_FILE}\n` : ''}`, permissions: '0444' },
              ...(db.caCertificatePem ? [{ file: MySqlPrimaryReplica.CLIENT_CA_FILE, content: db.caCertificatePem, permissions: '0444' }] : []),
            ],
            memoryMb: 64,
            networksAdvanced: onMgmt(name, [db.network]),
          }),
        );
      }
      this.jobs.push({ job: JOBS.mysql, targets: [db.primary, db.replica].map((s) => at(`${s.host}-exporter`, PORTS.mysqldExporter)) });
      this.jobs.push({ job: JOBS.dbRouter, targets: [db.routerMetricsTarget!] }); // checked above
      // The agent's own view: the writer it chose, failovers, refusals and why.
      if (db.failoverMetricsTarget) this.jobs.push({ job: JOBS.dbFailover, targets: [db.failoverMetricsTarget] });
    }
    const backup = p.backup as DatabaseBackup | undefined;
    if (backup) {
      if (!backup.metricsTarget) throw new ValidationError(path, 'backup', 'must have a managementNetwork (its metrics are served only there)');
      this.jobs.push({ job: JOBS.dbBackup, targets: [backup.metricsTarget] });
    }

    if (p.hostMetrics) {
      const name = `${prefix}-node-exporter`;
      this.exporters.push(
        stackContainer(this, 'NodeExporter', {
          ...base(name, httpHealth(name, PORTS.node, '/'), 'node-exporter'),
          image: img('nodeExporter'),
          entrypoint: ['/bin/node_exporter', '--path.rootfs=/host', '--path.procfs=/host/proc', '--path.sysfs=/host/sys', `--web.listen-address=${at(name, PORTS.node)}`],
          // The host's filesystems, read-only: disk usage of every mount the host had when it
          // started. (rslave would follow later mounts, but needs / to be a shared mount.)
          mounts: [{ type: 'bind', source: '/', target: '/host', readOnly: true }],
          memoryMb: 64,
          networksAdvanced: onMgmt(name),
        }),
      );
      this.jobs.push({ job: JOBS.node, targets: [at(name, PORTS.node)] });
    }

    const probes: ProbeJob[] = [];
    if (lb && p.probeNetwork) {
      const name = `${prefix}-blackbox`;
      const caFile = lb.tlsCertificate ? `${CONF}/ca.pem` : undefined;
      this.exporters.push(
        stackContainer(this, 'BlackboxExporter', {
          ...base(name, httpHealth(name, PORTS.blackbox, '/-/healthy'), 'blackbox-exporter'),
          image: img('blackboxExporter'),
          entrypoint: ['/bin/blackbox_exporter', `--config.file=${CONF}/blackbox.yml`, `--web.listen-address=${at(name, PORTS.blackbox)}`],
          upload: [
            { file: `${CONF}/blackbox.yml`, content: renderBlackboxConfig({ caFile, serverName: p.probeServerName, timeoutSeconds: 5 }) },
            // A generated certificate is its own CA; a brought one is checked by a public CA's chain,
            // which the probe cannot know, so it measures expiry without verifying.
            ...(caFile && lb.certificatePem ? [{ file: caFile, content: lb.certificatePem }] : []),
          ],
          memoryMb: 64,
          networksAdvanced: onMgmt(name, [p.probeNetwork as network.Network]),
        }),
      );
      probes.push({ job: JOBS.blackbox, module: HTTPS_PROBE_MODULE, targets: [lb.internalUrl], exporter: at(name, PORTS.blackbox) });
    }

    const webhookTokens = (p.receivers as AlertReceiver[]).flatMap((r) => ('webhook' in r && isToken(r.webhook.url) ? [r.webhook.url] : []));
    const amName = `${prefix}-alertmanager`;
    this.alertmanagerUrl = `http://${at(amName, PORTS.alertmanager)}`;
    const amHc = httpHealth(amName, PORTS.alertmanager, '/-/healthy');
    this.alertmanager = stackContainer(this, 'Alertmanager', {
      ...base(amName, amHc, 'alertmanager'),
      image: img('alertmanager'),
      // One instance: clustering off.
      entrypoint: ['/bin/alertmanager', `--config.file=${CONF}/alertmanager.yml`, '--storage.path=/alertmanager', `--web.listen-address=${at(amName, PORTS.alertmanager)}`, '--cluster.listen-address='],
      upload: [
        {
          file: `${CONF}/alertmanager.yml`,
          content: renderAlertmanagerConfig({ receivers: p.receivers as AlertReceiver[], groupWaitSeconds: 10, groupIntervalSeconds: 60, repeatIntervalMinutes: 240 }),
        },
      ],
      memoryMb: 128,
      networksAdvanced: onMgmt(amName),
      // A webhook URL given as a token (a variable, a secret) is checked when Terraform knows it.
      ...(webhookTokens.length ? { lifecycle: { precondition: webhookTokens.map((url) => ({ condition: Fn.can(Fn.regex(WEBHOOK_URL_AT_PLAN, url)), errorMessage: WEBHOOK_URL_RULE })) } } : {}),
      wait: true,
      waitTimeout: 120,
    });

    const promName = `${prefix}-prometheus`;
    this.prometheusUrl = `http://${at(promName, PORTS.prometheus)}`;
    const data = new volume.Volume(this, 'PrometheusData', { name: `${promName}-data` });
    const thresholds = { ...DEFAULT_ALERT_THRESHOLDS, ...Object.fromEntries(Object.entries(p.thresholds).filter(([, v]) => v !== undefined)) };
    const promConfig = Lazy.stringValue({
      produce: () =>
        terraformLiteral(
          renderPrometheusConfig({
            scrapeIntervalSeconds: p.scrapeIntervalSeconds,
            evaluationIntervalSeconds: p.scrapeIntervalSeconds,
            jobs: [{ job: 'prometheus', targets: [at(promName, PORTS.prometheus)] }, { job: 'alertmanager', targets: [at(amName, PORTS.alertmanager)] }, ...this.jobs],
            probes,
            alertmanagers: [at(amName, PORTS.alertmanager)],
            ruleFiles: [`${CONF}/rules.yml`],
          }),
        ),
    });
    this.prometheus = stackContainer(this, 'Prometheus', {
      ...base(promName, httpHealth(promName, PORTS.prometheus, '/-/healthy'), 'prometheus'),
      image: img('prometheus'),
      entrypoint: [
        '/bin/prometheus',
        `--config.file=${CONF}/prometheus.yml`,
        '--storage.tsdb.path=/prometheus',
        `--storage.tsdb.retention.time=${p.retentionDays}d`,
        `--web.listen-address=${at(promName, PORTS.prometheus)}`,
      ],
      upload: [
        { file: `${CONF}/prometheus.yml`, content: promConfig },
        { file: `${CONF}/rules.yml`, content: renderAlertRules({ engine: db?.engine ?? 'mysql', thresholds, jobs: JOBS, configuredWriter: db?.configuredWriterHost ?? '', backupIntervalMinutes: backup?.intervalMinutes }) },
      ],
      mounts: [{ type: 'volume', source: data.name, target: '/prometheus' }],
      memoryMb: p.prometheusMemoryMb,
      networksAdvanced: onMgmt(promName),
      wait: true,
      waitTimeout: 120,
      dependsOn: [this.alertmanager],
    });
  
    if (p.grafana) {
      const name = `${prefix}-grafana`;
      ensureRandomProvider(this);
      const adminPassword = new password.Password(this, 'GrafanaAdminPassword', { length: 32, special: false });
      const dashboards = `${CONF}/grafana/dashboards`;
      this.grafana = stackContainer(this, 'Grafana', {
        ...base(name, undefined, 'grafana'),
        image: img('grafana'),
        // Grafana reads `<setting>__FILE` as the path of the value: the password stays a file.
        env: [`GF_SECURITY_ADMIN_PASSWORD__FILE=${CONF}/secrets/grafana-admin-password`, 'GF_ANALYTICS_REPORTING_ENABLED=false', 'GF_ANALYTICS_CHECK_FOR_UPDATES=false'],
        upload: [
          // Read by Grafana's own unprivileged user (472 in the official image).
          { file: `${CONF}/secrets/grafana-admin-password`, content: adminPassword.result, permissions: '0444' },
          { file: '/etc/grafana/provisioning/datasources/dws.yaml', content: renderGrafanaDatasource(this.prometheusUrl) },
          { file: '/etc/grafana/provisioning/dashboards/dws.yaml', content: renderGrafanaDashboardProvider(dashboards) },
          ...DASHBOARD_FILES.map((f) => ({ file: `${dashboards}/${f}`, content: readFileSync(join(dashboardsDir(), f), 'utf8') })),
        ],
        mounts: [{ type: 'volume', source: new volume.Volume(this, 'GrafanaData', { name: `${name}-data` }).name, target: '/var/lib/grafana' }],
        memoryMb: 256,
        networksAdvanced: onMgmt(name),
      });
    }
  }
}
