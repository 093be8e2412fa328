/** A YAML value: what the Prometheus and Alertmanager renderers emit. */
export type Yaml = string | number | boolean | readonly Yaml[] | { readonly [key: string]: Yaml | undefined };

/**
 * Block-style YAML, deterministic (keys in insertion order); short lists of scalars in flow
 * style. A string YAML could read as anything else (number, boolean, syntax) is quoted.
 */
export function toYaml(v: Yaml): string {
  return block(v, '').join('\n') + '\n';
}

function block(v: Yaml, pad: string): string[] {
  if (Array.isArray(v)) {
    return (v as readonly Yaml[]).flatMap((item) => {
      const one = inline(item);
      if (one !== undefined) return [`${pad}- ${one}`];
      const [first, ...rest] = block(item, pad + '  ');
      return [`${pad}- ${first.slice(pad.length + 2)}`, ...rest];
    });
  }
  return Object.entries(v as { [key: string]: Yaml | undefined }).flatMap(([key, value]) => {
    if (value === undefined) return [];
    const one = inline(value);
    return one !== undefined ? [`${pad}${scalar(key)}: ${one}`] : [`${pad}${scalar(key)}:`, ...block(value, pad + '  ')];
  });
}

/** The value on one line, or undefined when it needs a block. */
function inline(v: Yaml): string | undefined {
  if (typeof v !== 'object') return scalar(v);
  const items = Array.isArray(v) ? (v as readonly Yaml[]) : undefined;
  if (items === undefined) return Object.keys(v).length ? undefined : '{}';
  if (!items.every((i) => typeof i !== 'object')) return undefined;
  const flow = `[${items.map((i) => scalar(i as string | number | boolean)).join(', ')}]`;
  return flow.length <= 80 ? flow : undefined;
}

function scalar(v: string | number | boolean): string {
  if (typeof v !== 'string') return String(v);
  const plain = (/^[A-Za-z_/][\w./:-]*$/.test(v) && !v.endsWith(':')) || /^\d+[smhd]$/.test(v);
  if (plain && !/^(true|false|yes|no|on|off|y|n|null)$/i.test(v)) return v;
  // Single quotes escape nothing but themselves; control characters need double quotes.
  return /[\x00-\x1f\x7f]/.test(v) ? JSON.stringify(v) : `'${v.replace(/'/g, "''")}'`;
}

export interface ScrapeJob {
  readonly job: string;
  readonly targets: readonly string[];
  readonly metricsPath?: string;
}

/** Blackbox probes: targets are URLs; the exporter is host:port of blackbox_exporter. */
export interface ProbeJob {
  readonly job: string;
  readonly module: string;
  readonly targets: readonly string[];
  readonly exporter: string;
}

export interface PrometheusModel {
  readonly scrapeIntervalSeconds: number;
  readonly evaluationIntervalSeconds: number;
  readonly jobs: readonly ScrapeJob[];
  readonly probes: readonly ProbeJob[];
  /** host:port */
  readonly alertmanagers: readonly string[];
  /** Paths inside the Prometheus container. */
  readonly ruleFiles: readonly string[];
}

/** Renders prometheus.yml. Pure: same model, same text. */
export function renderPrometheusConfig(m: PrometheusModel): string {
  return toYaml({
    global: {
      scrape_interval: `${m.scrapeIntervalSeconds}s`,
      // The 10s default is rejected when it exceeds the interval.
      scrape_timeout: `${Math.min(10, m.scrapeIntervalSeconds)}s`,
      evaluation_interval: `${m.evaluationIntervalSeconds}s`,
    },
    alerting: { alertmanagers: m.alertmanagers.length ? [{ static_configs: [{ targets: m.alertmanagers }] }] : [] },
    rule_files: m.ruleFiles,
    scrape_configs: [
      ...m.jobs.map((j) => ({ job_name: j.job, metrics_path: j.metricsPath, static_configs: [{ targets: j.targets }] })),
      ...m.probes.map(probeJob),
    ],
  });
}

// The multi-target pattern: scrape the exporter, pass the URL as ?target=, keep it as instance.
function probeJob(p: ProbeJob): Yaml {
  return {
    job_name: p.job,
    metrics_path: '/probe',
    params: { module: [p.module] },
    static_configs: [{ targets: p.targets }],
    relabel_configs: [
      { source_labels: ['__address__'], target_label: '__param_target' },
      { source_labels: ['__param_target'], target_label: 'instance' },
      { target_label: '__address__', replacement: p.exporter },
    ],
  };
}

export interface AlertThresholds {
  /** @default 30 */
  readonly replicationLagSeconds: number;
  /** Share of HAProxy backend responses that are 5xx. @default 0.05 */
  readonly http5xxRatio: number;
  /** HAProxy average backend response time. @default 1 */
  readonly responseTimeSeconds: number;
  /** @default 14 */
  readonly certificateExpiryDays: number;
  /** @default 0.10 */
  readonly diskFreeRatio: number;
  /** @default 0.10 */
  readonly memoryAvailableRatio: number;
}

export const DEFAULT_ALERT_THRESHOLDS: AlertThresholds = {
  replicationLagSeconds: 30,
  http5xxRatio: 0.05,
  responseTimeSeconds: 1,
  certificateExpiryDays: 14,
  diskFreeRatio: 0.1,
  memoryAvailableRatio: 0.1,
};

export interface AlertRulesModel {
  readonly engine: 'mysql' | 'mariadb';
  readonly thresholds: AlertThresholds;
  /** Job names used in the scrape config. */
  readonly jobs: { readonly haproxy: string; readonly nginx: string; readonly mysql: string; readonly node: string; readonly blackbox: string; readonly dbRouter: string; readonly dbFailover: string; readonly dbBackup: string };
  /** Minutes between full backups (DatabaseBackup); BackupTooOld fires when the last is 2 h older than that. @default 1440 */
  readonly backupIntervalMinutes?: number;
  /** The database node the `writer` prop names, as the router calls it; '' without a database. */
  readonly configuredWriter: string;
}

// A type, not an interface, so that it is a Yaml value as it is.
export type AlertRule = {
  readonly alert: string;
  readonly expr: string;
  readonly for: string;
  readonly labels: { readonly severity: 'critical' | 'warning' };
  readonly annotations: { readonly summary: string; readonly description: string };
};

/** The alert names renderAlertRules produces (for docs and tests). */
export const ALERT_NAMES: readonly string[] = [
  'TargetDown',
  'HAProxyServerDown',
  'HAProxyNoAliveBackend',
  'HAProxyHigh5xxRate',
  'HAProxyHighResponseTime',
  'NginxDown',
  'MySQLDown',
  'MySQLReplicationIOThreadStopped',
  'MySQLReplicationSQLThreadStopped',
  'MySQLReplicationLag',
  'MySQLReplicationHeartbeatLag',
  'MySQLSemiSyncDegraded',
  'DatabaseWriterUnrouted',
  'DatabaseFailedOver',
  'DatabaseFailoverRefused',
  'DatabaseSwitchoverFailed',
  'DatabaseNodeRebuilt',
  'BackupTooOld',
  'BinlogArchiveBehind',
  'PublicEndpointDown',
  'CertificateExpiringSoon',
  'HostDiskNearlyFull',
  'HostMemoryNearlyFull',
];

/**
 * mysqld_exporter names replica metrics after SHOW REPLICA/SLAVE STATUS columns: MySQL 8.4
 * answers with the *_source/replica_* columns, MariaDB with *_master/slave_*.
 */
const REPLICA_METRICS = {
  mysql: { io: 'mysql_slave_status_replica_io_running', sql: 'mysql_slave_status_replica_sql_running', lag: 'mysql_slave_status_seconds_behind_source' },
  mariadb: { io: 'mysql_slave_status_slave_io_running', sql: 'mysql_slave_status_slave_sql_running', lag: 'mysql_slave_status_seconds_behind_master' },
} as const;

/**
 * Semi-sync status and switch, from SHOW GLOBAL STATUS / VARIABLES (mysqld_exporter: lower-cased,
 * ON/OFF as 1/0): MySQL 8.4 names them *_source_*, MariaDB *_master_*.
 */
const SEMI_SYNC_METRICS = {
  mysql: { status: 'mysql_global_status_rpl_semi_sync_source_status', enabled: 'mysql_global_variables_rpl_semi_sync_source_enabled' },
  mariadb: { status: 'mysql_global_status_rpl_semi_sync_master_status', enabled: 'mysql_global_variables_rpl_semi_sync_master_enabled' },
} as const;

/** The rules of the "dws" group, in ALERT_NAMES order. */
export function alertRules(m: AlertRulesModel): AlertRule[] {
  const t = m.thresholds;
  const j = (name: string) => `job="${name}"`;
  const hap = j(m.jobs.haproxy);
  const router = j(m.jobs.dbRouter);
  const agent = j(m.jobs.dbFailover);
  const rep = REPLICA_METRICS[m.engine];
  const semi = SEMI_SYNC_METRICS[m.engine];
  const on = '{{ $labels.instance }}';
  const rule = (alert: string, expr: string, forDuration: string, severity: 'critical' | 'warning', summary: string, description: string): AlertRule => ({
    alert,
    expr,
    for: forDuration,
    labels: { severity },
    annotations: { summary, description },
  });
  return [
    rule('TargetDown', 'up == 0', '1m', 'critical', `${on} is not answering scrapes`, `Prometheus cannot scrape {{ $labels.job }} target ${on}.`),
    // state="DOWN" only: MAINT and DRAIN are set on purpose.
    rule('HAProxyServerDown', `haproxy_server_status{${hap},state="DOWN"} == 1`, '30s', 'warning',
      'HAProxy server {{ $labels.proxy }}/{{ $labels.server }} is DOWN',
      `Health checks from ${on} fail for {{ $labels.proxy }}/{{ $labels.server }}; the other servers carry its traffic.`),
    // Counts servers, not haproxy_backend_status: a backend without servers still reports UP.
    rule('HAProxyNoAliveBackend', `haproxy_backend_active_servers{${hap}} + haproxy_backend_backup_servers{${hap}} == 0`, '0s', 'critical',
      'HAProxy backend {{ $labels.proxy }} has no server alive',
      `Every request to backend {{ $labels.proxy }} on ${on} fails.`),
    // No traffic gives 0/0 = NaN, which is not above the threshold.
    rule('HAProxyHigh5xxRate',
      `sum by (job, instance, proxy) (rate(haproxy_backend_http_responses_total{${hap},code="5xx"}[5m])) / sum by (job, instance, proxy) (rate(haproxy_backend_http_responses_total{${hap}}[5m])) > ${t.http5xxRatio}`,
      '2m', 'critical', 'HAProxy backend {{ $labels.proxy }} answers with many 5xx',
      `{{ $value | humanizePercentage }} of responses from backend {{ $labels.proxy }} on ${on} were 5xx over 5 minutes.`),
    rule('HAProxyHighResponseTime', `haproxy_backend_response_time_average_seconds{${hap}} > ${t.responseTimeSeconds}`, '5m', 'warning',
      'HAProxy backend {{ $labels.proxy }} responds slowly',
      `Backend {{ $labels.proxy }} on ${on} takes {{ $value | humanizeDuration }} on average to respond.`),
    rule('NginxDown', `nginx_up{${j(m.jobs.nginx)}} == 0`, '1m', 'warning', `Nginx behind ${on} is down`, `nginx-prometheus-exporter ${on} cannot read the stub_status page of Nginx.`),
    rule('MySQLDown', `mysql_up{${j(m.jobs.mysql)}} == 0`, '1m', 'critical', `MySQL behind ${on} is down`, `mysqld_exporter ${on} cannot connect to its database server.`),
    // Only a replica has these series, so the replication rules cannot fire on the primary.
    rule('MySQLReplicationIOThreadStopped', `${rep.io}{${j(m.jobs.mysql)}} == 0`, '1m', 'critical',
      `Replication I/O thread stopped on ${on}`, `The replica behind ${on} is not receiving changes from the primary.`),
    rule('MySQLReplicationSQLThreadStopped', `${rep.sql}{${j(m.jobs.mysql)}} == 0`, '1m', 'critical',
      `Replication SQL thread stopped on ${on}`, `The replica behind ${on} is not applying changes; see its last SQL error.`),
    rule('MySQLReplicationLag', `${rep.lag}{${j(m.jobs.mysql)}} > ${t.replicationLagSeconds}`, '1m', 'warning',
      `Replica behind ${on} lags`, `The replica behind ${on} is {{ $value | humanizeDuration }} behind the primary.`),
    // By data, not by the replica's own account: the primary's heartbeat row (written every
    // second) as seen on this server. Also fires when replication has stopped or is cut off.
    rule('MySQLReplicationHeartbeatLag', `mysql_heartbeat_now_timestamp_seconds{${j(m.jobs.mysql)}} - mysql_heartbeat_stored_timestamp_seconds{${j(m.jobs.mysql)}} > ${t.replicationLagSeconds}`, '1m', 'warning',
      `The primary's heartbeat on ${on} is old`, `The primary's heartbeat seen on ${on} is {{ $value | humanizeDuration }} old: the primary's writes reach it late or not at all.`),
    // Only where the source side is switched on (the primary): a MySQL replica loads the source
    // plugin too, with status 0; with semiSync: false nothing is switched on and nothing fires.
    rule('MySQLSemiSyncDegraded',
      `${semi.status}{${j(m.jobs.mysql)}} == 0 and on (job, instance) ${semi.enabled}{${j(m.jobs.mysql)}} == 1`, '1m', 'critical',
      `Semi-synchronous replication is off on ${on}`,
      `The primary behind ${on} commits without waiting for the replica (it did not acknowledge within the semi-sync timeout): until it catches up, losing the primary loses acknowledged writes.`),
    // The database router's writer backend: a node is up there only while the failover agent
    // routes writes to it. Longer than a failover (goal: 15 s), so only a stuck one pages.
    rule('DatabaseWriterUnrouted', `haproxy_backend_active_servers{${router},proxy="writer"} == 0`, '30s', 'critical',
      `No database node takes writes through ${on}`,
      `The database router ${on} sends writes to no node: every write fails. The failover agent's log (docker logs <prefix>-db-failover) says why.`),
    rule('DatabaseFailedOver',
      `haproxy_server_status{${router},proxy="writer",server="${m.configuredWriter}",state="UP"} == 0 and on (job, instance) haproxy_backend_active_servers{${router},proxy="writer"} > 0`,
      '1m', 'warning',
      `Writes go to the other database node, not ${m.configuredWriter}`,
      `The database failed over: the router ${on} sends writes to the node the writer prop does not name. Deploy with the writer prop naming the node that takes writes now (that silences this); to move writes back once ${m.configuredWriter} replicates again, deploy it naming ${m.configuredWriter} after that (a planned switchover).`),
    // The failover agent's own account (its metrics): why it did not promote, and what it undid.
    rule('DatabaseFailoverRefused', `increase(dws_failover_refusals_total{${agent}}[2m]) > 0`, '0s', 'critical',
      'The failover agent refuses to promote the other database node ({{ $labels.reason }})',
      `The writer is lost and ${on} does not promote the other node, which may lack acknowledged writes (reason {{ $labels.reason }}: semi_sync_off, the writer committed without waiting for it; not_replicating or not_receiving, it was not following the writer; other_unreachable, it does not answer either; nothing_seen, the agent never saw the pair healthy). Writes stay unavailable until the writer returns or a person promotes a node by hand (README, "Manual procedure").`),
    rule('DatabaseSwitchoverFailed', `increase(dws_failover_switchovers_failed_total{${agent}}[15m]) > 0`, '0s', 'warning',
      'A planned database switchover was given up',
      `The other node did not catch up with the writer in time; ${on} opened the old writer again, so writes stay where they were. Its log (docker logs <prefix>-db-failover) says how far behind it was; the next deploy tries again.`),
    rule('DatabaseNodeRebuilt', `increase(dws_failover_rebuilds_total{${agent}}[15m]) > 0`, '0s', 'warning',
      'A former database writer was rebuilt from a dump',
      `${on} rebuilt a returning old writer whose history had diverged: the writes it had that the new writer never acknowledged are gone from it (they were never acknowledged to a client). The agent's log names the node.`),
    // The backup program's own account: the last good full backup, and the binary-log stream.
    rule('BackupTooOld', `time() - dws_backup_last_success_timestamp_seconds{${j(m.jobs.dbBackup)}} > ${((m.backupIntervalMinutes ?? 1440) + 120) * 60}`, '15m', 'critical',
      'The last good database backup is too old',
      `No full backup has succeeded on ${on} for {{ $value | humanizeDuration }} (one is due every ${m.backupIntervalMinutes ?? 1440} minutes). Its log (docker logs <prefix>-db-backup) says why; a backup is never taken from the writer, so one also fails while only the writer answers.`),
    rule('BinlogArchiveBehind',
      `dws_binlog_archive_up{${j(m.jobs.dbBackup)}} == 0 or dws_binlog_archive_lag_bytes{${j(m.jobs.dbBackup)}} > 1048576 or dws_binlog_archive_lag_bytes{${j(m.jobs.dbBackup)}} < 0`,
      '2m', 'critical',
      'The binary logs are not being archived',
      `${on} is not streaming the writer's binary logs, or is over 1 MiB behind: a restore could not reach the last writes (point-in-time recovery stops where the archive does). Its log (docker logs <prefix>-db-backup) says why.`),
    rule('PublicEndpointDown', `probe_success{${j(m.jobs.blackbox)}} == 0`, '1m', 'critical', `${on} is unreachable`, `The blackbox probe of ${on} fails.`),
    rule('CertificateExpiringSoon', `(probe_ssl_earliest_cert_expiry{${j(m.jobs.blackbox)}} - time()) / 86400 < ${t.certificateExpiryDays}`, '1h', 'warning',
      `The certificate of ${on} expires soon`, `The certificate served at ${on} expires in {{ printf "%.1f" $value }} days.`),
    rule('HostDiskNearlyFull',
      `node_filesystem_avail_bytes{${j(m.jobs.node)},fstype!~"${PSEUDO_FILESYSTEMS}"} / node_filesystem_size_bytes{${j(m.jobs.node)},fstype!~"${PSEUDO_FILESYSTEMS}"} < ${t.diskFreeRatio}`,
      '5m', 'warning', `Disk {{ $labels.mountpoint }} on ${on} is nearly full`, `Only {{ $value | humanizePercentage }} of {{ $labels.mountpoint }} on ${on} is free.`),
    rule('HostMemoryNearlyFull', `node_memory_MemAvailable_bytes{${j(m.jobs.node)}} / node_memory_MemTotal_bytes{${j(m.jobs.node)}} < ${t.memoryAvailableRatio}`,
      '5m', 'warning', `Memory on ${on} is nearly exhausted`, `Only {{ $value | humanizePercentage }} of the memory on ${on} is available.`),
  ];
}

// Filesystems whose free space says nothing about the disk (overlay repeats the host's root).
const PSEUDO_FILESYSTEMS = 'tmpfs|ramfs|squashfs|overlay|nsfs|fuse.lxcfs';

/** Renders the alert rule file: one group, "dws". */
export function renderAlertRules(m: AlertRulesModel): string {
  return toYaml({ groups: [{ name: 'dws', rules: alertRules(m) }] });
}
