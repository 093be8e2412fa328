import { writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  ALERT_NAMES,
  AlertRulesModel,
  alertRules,
  DEFAULT_ALERT_THRESHOLDS,
  PrometheusModel,
  renderAlertRules,
  renderPrometheusConfig,
} from '../../src/monitoring/render/prometheus';
import { run, tempFile } from './real-programs';

const jobs = { haproxy: 'haproxy', nginx: 'nginx', mysql: 'mysql', node: 'node', blackbox: 'blackbox', dbRouter: 'db-router', dbFailover: 'db-failover', dbBackup: 'db-backup' };
const rulesModel = (engine: 'mysql' | 'mariadb'): AlertRulesModel => ({ engine, thresholds: DEFAULT_ALERT_THRESHOLDS, jobs, configuredWriter: 'web-db-primary' });

const promModel = (ruleFile: string): PrometheusModel => ({
  scrapeIntervalSeconds: 15,
  evaluationIntervalSeconds: 15,
  jobs: [
    { job: 'haproxy', targets: ['web-lb:8404'] },
    { job: 'nginx', targets: ['web-server-1-exporter:9113', 'web-server-2-exporter:9113'] },
    { job: 'mysql', targets: ['web-db-primary-exporter:9104', 'web-db-replica-exporter:9104'], metricsPath: '/metrics' },
    { job: 'node', targets: ['web-node:9100'] },
  ],
  probes: [{ job: 'blackbox', module: 'https_2xx', targets: ['https://web-lb:8443/', 'https://example.test/healthz?full=1'], exporter: 'web-blackbox:9115' }],
  alertmanagers: ['web-alertmanager:9093'],
  ruleFiles: [ruleFile],
});

function promtool(args: string[]) {
  const r = run('promtool', args);
  return { status: r.status, output: r.stdout + r.stderr };
}

/** Writes the rules and prometheus.yml side by side; returns the config's path. */
function writeConfig(mutate: (m: PrometheusModel) => PrometheusModel = (m) => m): string {
  const rules = tempFile('dws.rules.yml', renderAlertRules(rulesModel('mysql')));
  const config = join(dirname(rules), 'prometheus.yml');
  writeFileSync(config, renderPrometheusConfig(mutate(promModel(rules))));
  return config;
}

describe('renderPrometheusConfig, checked by promtool check config', { tags: ['promtool'] }, () => {
  it('accepts scrape jobs, blackbox probes, Alertmanager and the rule file', () => {
    const r = promtool(['check', 'config', writeConfig()]);
    expect(r.status, r.output).toBe(0);
    expect(r.output).toContain('SUCCESS: 1 rule files found');
  });

  it('accepts a scrape interval below the 10s default timeout, and no Alertmanager or probes', () => {
    const r = promtool(['check', 'config', writeConfig((m) => ({ ...m, scrapeIntervalSeconds: 5, alertmanagers: [], probes: [] }))]);
    expect(r.status, r.output).toBe(0);
  });

  it('is a check that can fail: a duplicate job name is rejected', () => {
    const r = promtool(['check', 'config', writeConfig((m) => ({ ...m, jobs: [...m.jobs, m.jobs[0]] }))]);
    expect(r.status).not.toBe(0);
    expect(r.output).toMatch(/found multiple scrape configs with job name "haproxy"/);
  });

  it('probes through the exporter with the URL as target and instance', () => {
    const cfg = renderPrometheusConfig(promModel('/etc/prometheus/dws.rules.yml'));
    expect(cfg).toContain(['    relabel_configs:', '      - source_labels: [__address__]', '        target_label: __param_target'].join('\n'));
    expect(cfg).toContain("'https://example.test/healthz?full=1'");
    expect(renderPrometheusConfig(promModel('x'))).toBe(cfg.replace('/etc/prometheus/dws.rules.yml', 'x'));
  });
});

describe('renderAlertRules, checked by promtool check rules', { tags: ['promtool'] }, () => {
  it.each(['mysql', 'mariadb'] as const)('accepts every rule (%s)', (engine) => {
    const r = promtool(['check', 'rules', tempFile('dws.rules.yml', renderAlertRules(rulesModel(engine)))]);
    expect(r.status, r.output).toBe(0);
    expect(r.output).toContain(`SUCCESS: ${ALERT_NAMES.length} rules found`);
  });

  it('is a check that can fail: a broken expression is rejected', () => {
    const broken = renderAlertRules(rulesModel('mysql')).replace("'up == 0'", "'up == '");
    expect(promtool(['check', 'rules', tempFile('dws.rules.yml', broken)]).status).not.toBe(0);
  });
});

// ---- promtool test rules: every alert fires on bad series, after its for:, and not on good ones.

type Labels = Record<string, string>;
/** Input series: name{labels} → promtool's expanding notation, 15s per step (500 steps > 2h). */
type Series = Record<string, string>;
const s = (name: string, labels: Labels) => `${name}{${Object.entries(labels).map(([k, v]) => `${k}="${v}"`).join(',')}}`;
const flat = (v: number) => `${v}x500`;
const counter = (perStep: number) => `0+${perStep}x500`;

interface Case {
  readonly fire: Series;
  /** Labels of the firing alert, besides alertname and severity. */
  readonly labels: Labels;
  /** What {{ $value ... }} renders to in the annotations. */
  readonly value?: string;
  readonly calm: Series;
}

const LB = { job: 'haproxy', instance: 'web-lb:8404' };
const DB = { job: 'mysql', instance: 'web-db-replica-exporter:9104' };
const PRIMARY = { job: 'mysql', instance: 'web-db-primary-exporter:9104' };
const NODE = { job: 'node', instance: 'web-node:9100' };
const ROUTER = { job: 'db-router', instance: 'web-db-router-mgmt:8405' };
const AGENT = { job: 'db-failover', instance: 'web-db-failover-mgmt:9105' };
const BACKUP = { job: 'db-backup', instance: 'web-db-backup-mgmt:9106' };
const PROBE = { job: 'blackbox', instance: 'https://web-lb:8443/' };
const DAY = 86400;

function replicaNames(engine: 'mysql' | 'mariadb') {
  return engine === 'mysql'
    ? { io: 'mysql_slave_status_replica_io_running', sql: 'mysql_slave_status_replica_sql_running', lag: 'mysql_slave_status_seconds_behind_source' }
    : { io: 'mysql_slave_status_slave_io_running', sql: 'mysql_slave_status_slave_sql_running', lag: 'mysql_slave_status_seconds_behind_master' };
}

function semiSyncNames(engine: 'mysql' | 'mariadb') {
  return engine === 'mysql'
    ? { status: 'mysql_global_status_rpl_semi_sync_source_status', enabled: 'mysql_global_variables_rpl_semi_sync_source_enabled' }
    : { status: 'mysql_global_status_rpl_semi_sync_master_status', enabled: 'mysql_global_variables_rpl_semi_sync_master_enabled' };
}

function cases(engine: 'mysql' | 'mariadb'): Record<string, Case> {
  const r = replicaNames(engine);
  const semi = semiSyncNames(engine);
  // Semi-sync: switched on on the primary only; the replica's source side is off (status 0).
  const semiSync = (primaryStatus: number) => ({
    [s(semi.status, PRIMARY)]: flat(primaryStatus),
    [s(semi.enabled, PRIMARY)]: flat(1),
    [s(semi.status, DB)]: flat(0),
    [s(semi.enabled, DB)]: flat(0),
  });
  const ch = { ...DB, master_host: 'web-db-primary' };
  const hb = { ...DB, server_id: '1' };
  // A healthy pair: the primary has no replica series at all.
  const healthyPair = { [s('mysql_up', PRIMARY)]: flat(1), [s('mysql_up', DB)]: flat(1), [s(r.io, ch)]: flat(1), [s(r.sql, ch)]: flat(1), [s(r.lag, ch)]: flat(0) };
  const server = (name: string, state: string) => s('haproxy_server_status', { ...LB, proxy: 'app', server: name, state });
  const responses = (code: string) => s('haproxy_backend_http_responses_total', { ...LB, proxy: 'app', code });
  // The database router's writer backend, as HAProxy reports it: each node UP (1) or DOWN (0).
  const writerRoutedTo = (primary: number, replica: number) => ({
    [s('haproxy_backend_active_servers', { ...ROUTER, proxy: 'writer' })]: flat(primary + replica),
    [s('haproxy_server_status', { ...ROUTER, proxy: 'writer', server: 'web-db-primary', state: 'UP' })]: flat(primary),
    [s('haproxy_server_status', { ...ROUTER, proxy: 'writer', server: 'web-db-replica', state: 'UP' })]: flat(replica),
    [s('haproxy_server_status', { ...ROUTER, proxy: 'writer', server: 'web-db-primary', state: 'DOWN' })]: flat(1 - primary),
    [s('haproxy_server_status', { ...ROUTER, proxy: 'writer', server: 'web-db-replica', state: 'DOWN' })]: flat(1 - replica),
  });
  const fs = (metric: string, fstype: string, mountpoint: string) => s(metric, { ...NODE, device: fstype === 'tmpfs' ? 'tmpfs' : '/dev/sda1', fstype, mountpoint });
  return {
    TargetDown: { fire: { [s('up', LB)]: flat(0) }, labels: LB, calm: { [s('up', LB)]: flat(1) } },
    HAProxyServerDown: {
      fire: { [server('s1', 'DOWN')]: flat(1), [server('s1', 'UP')]: flat(0), [server('s2', 'DOWN')]: flat(0) },
      labels: { ...LB, proxy: 'app', server: 's1', state: 'DOWN' },
      // Maintenance is on purpose: a server in MAINT is not DOWN.
      calm: { [server('s1', 'DOWN')]: flat(0), [server('s1', 'MAINT')]: flat(1), [server('s2', 'DOWN')]: flat(0) },
    },
    HAProxyNoAliveBackend: {
      fire: { [s('haproxy_backend_active_servers', { ...LB, proxy: 'app' })]: flat(0), [s('haproxy_backend_backup_servers', { ...LB, proxy: 'app' })]: flat(0) },
      labels: { ...LB, proxy: 'app' },
      calm: { [s('haproxy_backend_active_servers', { ...LB, proxy: 'app' })]: flat(1), [s('haproxy_backend_backup_servers', { ...LB, proxy: 'app' })]: flat(0) },
    },
    HAProxyHigh5xxRate: {
      fire: { [responses('5xx')]: counter(10), [responses('2xx')]: counter(90) },
      labels: { ...LB, proxy: 'app' },
      value: '10%',
      // 1% errors; and a backend without traffic (0/0) stays quiet.
      calm: { [responses('5xx')]: counter(1), [responses('2xx')]: counter(99), [s('haproxy_backend_http_responses_total', { ...LB, proxy: 'idle', code: '5xx' })]: flat(0) },
    },
    HAProxyHighResponseTime: {
      fire: { [s('haproxy_backend_response_time_average_seconds', { ...LB, proxy: 'app' })]: flat(1.5) },
      labels: { ...LB, proxy: 'app' },
      value: '1.5s',
      calm: { [s('haproxy_backend_response_time_average_seconds', { ...LB, proxy: 'app' })]: flat(0.2) },
    },
    NginxDown: {
      fire: { [s('nginx_up', { job: 'nginx', instance: 'web-server-1-exporter:9113' })]: flat(0) },
      labels: { job: 'nginx', instance: 'web-server-1-exporter:9113' },
      calm: { [s('nginx_up', { job: 'nginx', instance: 'web-server-1-exporter:9113' })]: flat(1) },
    },
    MySQLDown: { fire: { [s('mysql_up', DB)]: flat(0) }, labels: DB, calm: healthyPair },
    MySQLReplicationIOThreadStopped: { fire: { ...healthyPair, [s(r.io, ch)]: flat(0) }, labels: ch, calm: healthyPair },
    MySQLReplicationSQLThreadStopped: { fire: { ...healthyPair, [s(r.sql, ch)]: flat(0) }, labels: ch, calm: healthyPair },
    MySQLReplicationLag: { fire: { ...healthyPair, [s(r.lag, ch)]: flat(45) }, labels: ch, value: '45s', calm: { ...healthyPair, [s(r.lag, ch)]: flat(29) } },
    MySQLReplicationHeartbeatLag: {
      fire: { ...healthyPair, [s('mysql_heartbeat_now_timestamp_seconds', hb)]: flat(2000), [s('mysql_heartbeat_stored_timestamp_seconds', hb)]: flat(1955) },
      labels: hb,
      value: '45s',
      calm: { ...healthyPair, [s('mysql_heartbeat_now_timestamp_seconds', hb)]: flat(2000), [s('mysql_heartbeat_stored_timestamp_seconds', hb)]: flat(1999.4) },
    },
    // Fires on the degraded primary only; quiet on a healthy primary and on the replica (status 0).
    MySQLSemiSyncDegraded: { fire: { ...healthyPair, ...semiSync(0) }, labels: PRIMARY, calm: { ...healthyPair, ...semiSync(1) } },
    // Writes routed nowhere; the other node being DOWN in the writer backend is the normal state.
    DatabaseWriterUnrouted: { fire: writerRoutedTo(0, 0), labels: { ...ROUTER, proxy: 'writer' }, calm: writerRoutedTo(1, 0) },
    // Writes go to the replica while the writer prop names the primary; quiet when nothing takes
    // writes (DatabaseWriterUnrouted says that) and when the named node does.
    DatabaseFailedOver: { fire: writerRoutedTo(0, 1), labels: { ...ROUTER, proxy: 'writer', server: 'web-db-primary', state: 'UP' }, calm: writerRoutedTo(1, 0) },
    // Refusals counted on every probe while the writer is lost and promotion unsafe; the
    // agent's counters start at 0 for every reason, so the first one counts.
    DatabaseFailoverRefused: {
      fire: { [s('dws_failover_refusals_total', { ...AGENT, reason: 'semi_sync_off' })]: '0x4 2+2x500', [s('dws_failover_refusals_total', { ...AGENT, reason: 'other_unreachable' })]: flat(0) },
      labels: { ...AGENT, reason: 'semi_sync_off' },
      // Refusals before (the counter stays at 5) do not page now.
      calm: { [s('dws_failover_refusals_total', { ...AGENT, reason: 'semi_sync_off' })]: flat(5) },
    },
    DatabaseSwitchoverFailed: { fire: { [s('dws_failover_switchovers_failed_total', AGENT)]: '0x4 1x500' }, labels: AGENT, calm: { [s('dws_failover_switchovers_failed_total', AGENT)]: flat(0) } },
    DatabaseNodeRebuilt: { fire: { [s('dws_failover_rebuilds_total', AGENT)]: '0x4 1x500' }, labels: AGENT, calm: { [s('dws_failover_rebuilds_total', AGENT)]: flat(3) } },
    // The last good backup 30 h before the test's clock starts (a day's interval plus 2 h is 26 h);
    // calm: one at the start.
    BackupTooOld: {
      fire: { [s('dws_backup_last_success_timestamp_seconds', BACKUP)]: flat(-30 * 3600) },
      labels: BACKUP,
      // Seen at the fire check, 17 min in.
      value: '1d 6h 17m 0s',
      calm: { [s('dws_backup_last_success_timestamp_seconds', BACKUP)]: flat(0) },
    },
    // The stream stopped; calm: streaming and a few bytes behind (a write in flight).
    BinlogArchiveBehind: {
      fire: { [s('dws_binlog_archive_up', BACKUP)]: flat(0), [s('dws_binlog_archive_lag_bytes', BACKUP)]: flat(-1) },
      labels: BACKUP,
      calm: { [s('dws_binlog_archive_up', BACKUP)]: flat(1), [s('dws_binlog_archive_lag_bytes', BACKUP)]: flat(420) },
    },
    PublicEndpointDown: { fire: { [s('probe_success', PROBE)]: flat(0) }, labels: PROBE, calm: { [s('probe_success', PROBE)]: flat(1) } },
    // Expiry at day 9.5, seen at the fire check (1h 2m): 9.457 days left.
    CertificateExpiringSoon: {
      fire: { [s('probe_ssl_earliest_cert_expiry', PROBE)]: flat(9.5 * DAY) },
      labels: PROBE,
      value: '9.5',
      calm: { [s('probe_ssl_earliest_cert_expiry', PROBE)]: flat(60 * DAY) },
    },
    HostDiskNearlyFull: {
      fire: { [fs('node_filesystem_avail_bytes', 'ext4', '/')]: flat(5), [fs('node_filesystem_size_bytes', 'ext4', '/')]: flat(100) },
      labels: { ...NODE, device: '/dev/sda1', fstype: 'ext4', mountpoint: '/' },
      value: '5%',
      // A full tmpfs says nothing about the disk.
      calm: {
        [fs('node_filesystem_avail_bytes', 'ext4', '/')]: flat(50),
        [fs('node_filesystem_size_bytes', 'ext4', '/')]: flat(100),
        [fs('node_filesystem_avail_bytes', 'tmpfs', '/run')]: flat(1),
        [fs('node_filesystem_size_bytes', 'tmpfs', '/run')]: flat(100),
      },
    },
    HostMemoryNearlyFull: {
      fire: { [s('node_memory_MemAvailable_bytes', NODE)]: flat(5), [s('node_memory_MemTotal_bytes', NODE)]: flat(100) },
      labels: NODE,
      value: '5%',
      calm: { [s('node_memory_MemAvailable_bytes', NODE)]: flat(40), [s('node_memory_MemTotal_bytes', NODE)]: flat(100) },
    },
  };
}

const seconds = (d: string) => Number(d.slice(0, -1)) * { s: 1, m: 60, h: 3600 }[d.slice(-1) as 's' | 'm' | 'h']!;
const inputs = (series: Series) => Object.entries(series).map(([series, values]) => ({ series, values }));

/** A promtool unit-test file: per alert, one group where it fires (and is pending before its for:), one where it does not. */
function unitTests(model: AlertRulesModel, ruleFile: string, table: Record<string, Case>, only?: string) {
  const tests = alertRules(model).filter((rule) => only === undefined || rule.alert === only).flatMap((rule) => {
    const c = table[rule.alert];
    const fireAt = seconds(rule.for) + 120;
    const exp_labels = { ...c.labels, severity: rule.labels.severity };
    // The templates, rendered as Prometheus should: labels and the value substituted.
    const render = (t: string) => t.replace(/\{\{ \$labels\.(\w+) \}\}/g, (_, k: string) => exp_labels[k as keyof typeof exp_labels] ?? '').replace(/\{\{[^}]*\$value[^}]*\}\}/g, c.value ?? '');
    const exp_annotations = { summary: render(rule.annotations.summary), description: render(rule.annotations.description) };
    const pending = seconds(rule.for) > 0 ? [{ eval_time: `${seconds(rule.for) - 30}s`, alertname: rule.alert, exp_alerts: [] }] : [];
    return [
      { interval: '15s', input_series: inputs(c.fire), alert_rule_test: [...pending, { eval_time: `${fireAt}s`, alertname: rule.alert, exp_alerts: [{ exp_labels, exp_annotations }] }] },
      { interval: '15s', input_series: inputs(c.calm), alert_rule_test: [{ eval_time: `${fireAt}s`, alertname: rule.alert, exp_alerts: [] }] },
    ];
  });
  // JSON is YAML: promtool reads it as it is.
  return tempFile('dws.test.yml', JSON.stringify({ rule_files: [ruleFile], evaluation_interval: '15s', tests }, null, 2));
}

function testRules(engine: 'mysql' | 'mariadb', table: Record<string, Case>, only?: string) {
  const model = rulesModel(engine);
  return promtool(['test', 'rules', unitTests(model, tempFile('dws.rules.yml', renderAlertRules(model)), table, only)]);
}

describe('renderAlertRules, unit-tested by promtool test rules', { tags: ['promtool'] }, () => {
  it('has a case for every alert, in ALERT_NAMES order', () => {
    expect(alertRules(rulesModel('mysql')).map((r) => r.alert)).toEqual(ALERT_NAMES);
    expect(Object.keys(cases('mysql')).sort()).toEqual([...ALERT_NAMES].sort());
  });

  it.each(['mysql', 'mariadb'] as const)('every alert fires after its for: on bad series and stays quiet on good ones (%s)', (engine) => {
    const r = testRules(engine, cases(engine));
    expect(r.status, r.output).toBe(0);
    expect(r.output).toContain('SUCCESS');
  });

  const ENGINE_SPECIFIC = ['MySQLReplicationIOThreadStopped', 'MySQLReplicationSQLThreadStopped', 'MySQLReplicationLag', 'MySQLSemiSyncDegraded'];
  it('uses each engine\'s replica and semi-sync metric names: the other engine\'s series do not fire (a check that can fail)', () => {
    for (const [engine, other] of [['mysql', 'mariadb'], ['mariadb', 'mysql']] as const) {
      const table = { ...cases(engine) };
      for (const name of ENGINE_SPECIFIC) table[name] = cases(other)[name];
      const r = testRules(engine, table);
      expect(r.status).not.toBe(0);
      for (const name of ENGINE_SPECIFIC) expect(r.output).toContain(`alertname: ${name}`);
    }
  });

  it.each(['mysql', 'mariadb'] as const)('MySQLSemiSyncDegraded stays quiet when semi-sync is switched off (semiSync: false), and on a replica whose source side is off (%s)', (engine) => {
    const semi = semiSyncNames(engine);
    const table = { ...cases(engine) };
    // Both nodes report status 0 with nothing switched on: the source side is off everywhere.
    table.MySQLSemiSyncDegraded = {
      ...table.MySQLSemiSyncDegraded,
      fire: { [s(semi.status, PRIMARY)]: flat(0), [s(semi.enabled, PRIMARY)]: flat(0), [s(semi.status, DB)]: flat(0), [s(semi.enabled, DB)]: flat(0) },
    };
    const r = testRules(engine, table, 'MySQLSemiSyncDegraded');
    // Its "fire" group fails, with no alert at all: the rule needs the _enabled switch to fire.
    expect(r.status).not.toBe(0);
    expect(r.output).toMatch(/alertname: MySQLSemiSyncDegraded, time: 3m,\s+exp:\[\s+0:[\s\S]*got:\[\]/);
  });

  it('DatabaseFailedOver stays quiet while no node takes writes (the other alert says that)', () => {
    const table = { ...cases('mysql') };
    table.DatabaseFailedOver = { ...table.DatabaseFailedOver, fire: table.DatabaseWriterUnrouted.fire };
    const r = testRules('mysql', table, 'DatabaseFailedOver');
    expect(r.status).not.toBe(0);
    expect(r.output).toMatch(/alertname: DatabaseFailedOver, time: 3m,\s+exp:\[\s+0:[\s\S]*got:\[\]/);
  });

  it('takes its thresholds from the model', () => {
    const rules = renderAlertRules({ ...rulesModel('mysql'), thresholds: { ...DEFAULT_ALERT_THRESHOLDS, replicationLagSeconds: 5, certificateExpiryDays: 30, http5xxRatio: 0.01 } });
    expect(rules).toContain('mysql_slave_status_seconds_behind_source{job="mysql"} > 5');
    expect(rules).toContain('/ 86400 < 30');
    expect(rules).toContain('> 0.01');
  });
});
