import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  DASHBOARD_FILES,
  dashboardQueries,
  dashboardsDir,
  expandGrafanaVariables,
  renderGrafanaDashboardProvider,
  renderGrafanaDatasource,
  requiredMetricGroups,
} from '../../src/monitoring/render/grafana';
import { toYaml } from '../../src/monitoring/render/prometheus';
import { run, tempFile } from './real-programs';
import { pythonWithYaml } from '../real-program-table';

interface Panel {
  type: string;
  title: string;
  datasource?: { type: string; uid: string };
  targets?: { refId: string; expr: string; datasource?: { type: string; uid: string } }[];
  panels?: Panel[];
}
interface Dashboard {
  uid: string;
  title: string;
  schemaVersion: number;
  panels: Panel[];
  templating: { list: { name: string; datasource?: { type: string; uid: string } }[] };
}

const text = (file: string) => readFileSync(join(dashboardsDir(), file), 'utf8');
const dashboards = DASHBOARD_FILES.map((file) => ({ file, json: text(file), d: JSON.parse(text(file)) as Dashboard }));
const allPanels = (panels: Panel[]): Panel[] => panels.flatMap((p) => [p, ...allPanels(p.panels ?? [])]);
const allQueries = dashboards.flatMap(({ file, json }) => dashboardQueries(json).map((expr) => ({ file, expr })));
const PROMETHEUS = { type: 'prometheus', uid: 'prometheus' };

function promtoolCheckRules(exprs: string[]) {
  const rules = { groups: [{ name: 'dws-dashboards', rules: exprs.map((expr, n) => ({ record: `dws:check:${n}`, expr: expandGrafanaVariables(expr) })) }] };
  const r = run('promtool', ['check', 'rules', tempFile('dashboards.rules.yml', toYaml(rules))]);
  return { status: r.status, output: r.stdout + r.stderr };
}

describe('the shipped dashboards', () => {
  it('are the JSON files of assets/dashboards, found from src and from lib', () => {
    expect(existsSync(dashboardsDir())).toBe(true);
    expect([...readdirSync(dashboardsDir())].sort()).toEqual([...DASHBOARD_FILES].sort());
    expect(DASHBOARD_FILES).toEqual(['haproxy.json', 'nginx.json', 'mysql.json', 'host.json']);
  });

  it('parse, with a unique uid and title, schemaVersion 39 and 5-8 panels each', () => {
    for (const { file, d } of dashboards) {
      expect(d.uid, file).toMatch(/^dws-[a-z]+$/);
      expect(d.title, file).toMatch(/^DWS \/ /);
      expect(d.schemaVersion, file).toBe(39);
      expect(allPanels(d.panels).length, file).toBeGreaterThanOrEqual(5);
      expect(allPanels(d.panels).length, file).toBeLessThanOrEqual(8);
    }
    expect(new Set(dashboards.map(({ d }) => d.uid)).size).toBe(dashboards.length);
    expect(new Set(dashboards.map(({ d }) => d.title)).size).toBe(dashboards.length);
  });

  it('query only the provisioned Prometheus datasource, in every panel, target and variable', () => {
    for (const { file, d } of dashboards) {
      for (const p of allPanels(d.panels)) {
        if (p.type === 'row') continue;
        expect(p.datasource, `${file}: ${p.title}`).toEqual(PROMETHEUS);
        expect(p.targets?.length, `${file}: ${p.title}`).toBeGreaterThan(0);
        for (const t of p.targets ?? []) expect(t.datasource, `${file}: ${p.title} ${t.refId}`).toEqual(PROMETHEUS);
        expect(new Set(p.targets!.map((t) => t.refId)).size, `${file}: ${p.title}`).toBe(p.targets!.length);
      }
      for (const v of d.templating.list) expect(v.datasource, `${file}: $${v.name}`).toEqual(PROMETHEUS);
    }
  });

  it('have panel ids unique within each dashboard and panels that do not overlap', () => {
    for (const { file, d } of dashboards) {
      const panels = allPanels(d.panels) as (Panel & { id: number; gridPos: { x: number; y: number; w: number; h: number } })[];
      expect(new Set(panels.map((p) => p.id)).size, file).toBe(panels.length);
      for (const a of panels) {
        expect(a.gridPos.x + a.gridPos.w, `${file}: ${a.title}`).toBeLessThanOrEqual(24);
        for (const b of panels) {
          if (a === b) continue;
          const overlap = a.gridPos.x < b.gridPos.x + b.gridPos.w && b.gridPos.x < a.gridPos.x + a.gridPos.w && a.gridPos.y < b.gridPos.y + b.gridPos.h && b.gridPos.y < a.gridPos.y + a.gridPos.h;
          expect(overlap, `${file}: ${a.title} / ${b.title}`).toBe(false);
        }
      }
    }
  });
});

describe('dashboard PromQL, checked by promtool check rules', { tags: ['promtool'] }, () => {
  it('finds every expression, including those of panels nested in rows', () => {
    expect(allQueries.length).toBe(38);
    const nested = JSON.stringify({ panels: [{ type: 'row', panels: [{ targets: [{ expr: 'up' }, { refId: 'B' }] }] }, { targets: [{ expr: 'node_load1' }] }] });
    expect(dashboardQueries(nested)).toEqual(['up', 'node_load1']);
    expect(dashboardQueries(JSON.stringify({ rows: [{ panels: [{ targets: [{ expr: 'x' }] }] }] }))).toEqual(['x']);
  });

  it('accepts every dashboard expression (Grafana variables expanded)', () => {
    for (const { expr } of allQueries) expect(expandGrafanaVariables(expr)).not.toContain('$');
    const r = promtoolCheckRules(allQueries.map((q) => q.expr));
    expect(r.status, r.output).toBe(0);
    expect(r.output).toContain(`SUCCESS: ${allQueries.length} rules found`);
  });

  it('is a check that can fail: a broken expression is rejected', () => {
    const r = promtoolCheckRules(['up', 'sum by (proxy) (rate(haproxy_backend_http_requests_total[$__rate_interval])']);
    expect(r.status).not.toBe(0);
    expect(r.output).toMatch(/dws:check:1|unclosed left parenthesis/);
  });

  it('expands Grafana variables', () => {
    expect(expandGrafanaVariables('rate(x{instance=~"$instance"}[$__rate_interval])')).toBe('rate(x{instance=~".*"}[5m])');
    expect(expandGrafanaVariables('rate(x{a=~"${a}",b=~"[[b]]"}[${__interval}])', '1m')).toBe('rate(x{a=~".*",b=~".*"}[1m])');
  });
});

describe('the MySQL dashboard on both engines, evaluated by promtool test rules', { tags: ['promtool'] }, () => {
  // The primary p and the replica r, with the series each engine's exporter gives them.
  const names = {
    mysql: { status: 'mysql_global_status_rpl_semi_sync_source_status', enabled: 'mysql_global_variables_rpl_semi_sync_source_enabled', io: 'mysql_slave_status_replica_io_running', lag: 'mysql_slave_status_seconds_behind_source' },
    mariadb: { status: 'mysql_global_status_rpl_semi_sync_master_status', enabled: 'mysql_global_variables_rpl_semi_sync_master_enabled', io: 'mysql_slave_status_slave_io_running', lag: 'mysql_slave_status_seconds_behind_master' },
  };
  const queries = dashboardQueries(text('mysql.json'));
  const query = (metric: string) => expandGrafanaVariables(queries.find((q) => q.includes(metric))!);

  it.each(['mysql', 'mariadb'] as const)('%s: semi-sync shows the primary only, replication the replica only', (engine) => {
    const m = names[engine];
    const series = (name: string, instance: string, value: number) => ({ series: `${name}{job="mysql",instance="${instance}"}`, values: `${value}x4` });
    const sample = (name: string, instance: string, value: number) => ({ labels: `${name}{job="mysql",instance="${instance}"}`, value });
    const tests = {
      rule_files: [],
      evaluation_interval: '15s',
      tests: [
        {
          interval: '15s',
          input_series: [
            series(m.status, 'p', 1), series(m.enabled, 'p', 1),
            // a MySQL replica loads the source plugin too, switched off
            series(m.status, 'r', 0), series(m.enabled, 'r', 0),
            series(m.io, 'r', 1), series(m.lag, 'r', 3),
          ],
          promql_expr_test: [
            { expr: query('rpl_semi_sync_source_status'), eval_time: '30s', exp_samples: [sample(m.status, 'p', 1)] },
            { expr: query('replica_io_running'), eval_time: '30s', exp_samples: [sample(m.io, 'r', 1)] },
            { expr: query('seconds_behind_source'), eval_time: '30s', exp_samples: [sample(m.lag, 'r', 3)] },
          ],
        },
      ],
    };
    const yaml = toYaml(tests);
    const r = run('promtool', ['test', 'rules', tempFile('dashboards.test.yml', yaml)]);
    expect(r.status, r.stdout + r.stderr).toBe(0);
  });
});

describe('requiredMetricGroups', () => {
  it('gives each dashboard expression at least one group, all of exporter metrics', () => {
    for (const { file, expr } of allQueries) {
      const groups = requiredMetricGroups(expr);
      expect(groups.length, `${file}: ${expr}`).toBeGreaterThan(0);
      for (const name of groups.flat()) expect(name, `${file}: ${expr}`).toMatch(/^(haproxy|nginx|mysql|node)_\w+$/);
    }
  });

  it('reads the engine alternatives of the MySQL dashboard as groups', () => {
    const groups = dashboardQueries(text('mysql.json')).map(requiredMetricGroups);
    expect(groups).toContainEqual([['mysql_slave_status_seconds_behind_source', 'mysql_slave_status_seconds_behind_master']]);
    expect(groups).toContainEqual([['mysql_slave_status_replica_io_running', 'mysql_slave_status_slave_io_running']]);
    expect(groups).toContainEqual([
      ['mysql_global_status_rpl_semi_sync_source_status', 'mysql_global_status_rpl_semi_sync_master_status'],
      ['mysql_global_variables_rpl_semi_sync_source_enabled', 'mysql_global_variables_rpl_semi_sync_master_enabled'],
    ]);
  });

  it.each<[string, string[][]]>([
    ['up', [['up']]],
    ['a or b', [['a', 'b']]],
    ['a{job="x"} or b{job="x"}', [['a', 'b']]],
    ['rate(x[5m]) / rate(y[5m])', [['x'], ['y']]],
    // the same metric twice, with different matchers, is one requirement
    ['sum by (proxy) (rate(r{code="5xx"}[$__rate_interval])) / sum by (proxy) (rate(r[$__rate_interval]))', [['r']]],
    // `or` binds loosest: (a / b) or c needs (a or c) and (b or c)
    ['a / b or c', [['a', 'c'], ['b', 'c']]],
    ['a or b / c', [['a', 'b'], ['a', 'c']]],
    ['(a or b) and on (instance) (c == 1 or d == 1)', [['a', 'b'], ['c', 'd']]],
    ['a unless b', [['a'], ['b']]],
    // label names in by/on/group_left lists and matchers, strings and regexes are no metrics
    ['sum by (instance, mode) (rate(c{mode!="idle", fstype!~"tmpfs|overlay"}[5m])) / on (instance) group_left (mode) count by (instance) (c2)', [['c'], ['c2']]],
    ['sum(x) without (cpu, job)', [['x']]],
    ['max(x) by (a) > bool 0.5', [['x']]],
    ['1 - avg(rate(node_cpu_seconds_total{mode="idle"}[5m]))', [['node_cpu_seconds_total']]],
    ['-x + +y * 2e3 - 0x1f - .5 - Inf + NaN', [['x'], ['y']]],
    ['topk(5, x) or vector(0)', []],
    ['x or vector(0)', []],
    ['label_replace(x, "dst", "$1", "src", "(.*)")', [['x']]],
    ['histogram_quantile(0.9, sum by (le) (rate(h_bucket[5m])))', [['h_bucket']]],
    ['count_values("version", build_info)', [['build_info']]],
    ['clamp_min(increase(x[1h] offset 1d), 0) and irate(y[5m:30s])', [['x'], ['y']]],
    ['x @ start() > x @ 1700000000', [['x']]],
    ['{__name__="x", job="a"} / y', [['x'], ['y']]],
    ['SUM BY (a) (x)', [['x']]],
    ['ns:rule:rate5m{job="a"}', [['ns:rule:rate5m']]],
    ['topk($n, x{instance=~"$instance"})', [['x']]],
    ['sum(rate(x[5m])) # comment with y\n/ z', [['x'], ['z']]],
    ['"a string with metric_name and (parens"', []],
  ])('%s', (expr, groups) => {
    expect(requiredMetricGroups(expr)).toEqual(groups);
  });

  it('throws on what it cannot read', () => {
    expect(() => requiredMetricGroups('sum(x')).toThrow(/unbalanced|cannot read/);
    expect(() => requiredMetricGroups('x y')).toThrow(/cannot read/);
    expect(() => requiredMetricGroups('x{a="b}')).toThrow(/unterminated|unbalanced/);
  });
});

describe('Grafana provisioning files', () => {
  it('renders the Prometheus datasource, uid "prometheus", as the default', () => {
    expect(renderGrafanaDatasource('http://web-prometheus-mgmt:9090')).toBe(
      [
        'apiVersion: 1',
        'datasources:',
        '  - name: Prometheus',
        '    uid: prometheus',
        '    type: prometheus',
        '    access: proxy',
        '    url: http://web-prometheus-mgmt:9090',
        '    isDefault: true',
        '    editable: false',
        '',
      ].join('\n'),
    );
  });

  it('renders the dashboard provider for a folder', () => {
    expect(renderGrafanaDashboardProvider('/etc/dws/grafana/dashboards')).toBe(
      [
        'apiVersion: 1',
        'providers:',
        '  - name: dws',
        '    orgId: 1',
        '    folder: DWS',
        '    type: file',
        '    disableDeletion: true',
        '    allowUiUpdates: false',
        '    updateIntervalSeconds: 60',
        '    options:',
        '      path: /etc/dws/grafana/dashboards',
        '      foldersFromFilesStructure: false',
        '',
      ].join('\n'),
    );
  });

  it('renders YAML that parses to the intended structure (PyYAML)', { tags: ['pyyaml'] }, () => {
    const python = pythonWithYaml() ?? 'python3';
    const parse = (yaml: string) => JSON.parse(run(python, ['-c', 'import json, sys, yaml; print(json.dumps(yaml.safe_load(sys.stdin)))'], { input: yaml }).stdout);
    expect(parse(renderGrafanaDatasource("http://prom:9090/a path?x='1'"))).toEqual({
      apiVersion: 1,
      datasources: [{ name: 'Prometheus', uid: 'prometheus', type: 'prometheus', access: 'proxy', url: "http://prom:9090/a path?x='1'", isDefault: true, editable: false }],
    });
    expect(parse(renderGrafanaDashboardProvider('/etc/dws/grafana/dashboards')).providers[0]).toEqual({
      name: 'dws', orgId: 1, folder: 'DWS', type: 'file', disableDeletion: true, allowUiUpdates: false, updateIntervalSeconds: 60,
      options: { path: '/etc/dws/grafana/dashboards', foldersFromFilesStructure: false },
    });
  });
});
