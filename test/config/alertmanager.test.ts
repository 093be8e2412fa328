import { dirname, join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { AlertmanagerModel, AlertReceiver, renderAlertmanagerConfig } from '../../src/monitoring/render/alertmanager';
import { ALERT_NAMES } from '../../src/monitoring/render/prometheus';
import { run, start, tempFile } from './real-programs';

const RECEIVERS: Record<string, AlertReceiver> = {
  webhook: { webhook: { url: 'http://127.0.0.1:1/hook' } },
  email: { email: { to: 'ops@example.test', from: 'alertmanager@example.test', smarthost: 'mail.example.test:587', authUsername: 'alerts', authPasswordFile: '/run/secrets/smtp-password' } },
  emailWithoutAuth: { email: { to: 'ops@example.test', from: 'alertmanager@example.test', smarthost: 'mail.example.test:25' } },
  slack: { slack: { apiUrlFile: '/run/secrets/slack-url', channel: '#ops' } },
  pagerduty: { pagerduty: { routingKeyFile: '/run/secrets/pagerduty-key' } },
};
const model = (receivers: readonly AlertReceiver[]): AlertmanagerModel => ({ receivers, groupWaitSeconds: 10, groupIntervalSeconds: 60, repeatIntervalMinutes: 240 });

function amtool(args: string[]) {
  const r = run('amtool', args);
  return { status: r.status, output: r.stdout + r.stderr };
}
const checkConfig = (yml: string) => amtool(['check-config', tempFile('alertmanager.yml', yml)]);

describe('renderAlertmanagerConfig, checked by amtool check-config', { tags: ['alertmanager'] }, () => {
  it.each(Object.keys(RECEIVERS))('accepts a %s receiver, secrets as files only', (kind) => {
    const r = checkConfig(renderAlertmanagerConfig(model([RECEIVERS[kind]])));
    expect(r.status, r.output).toBe(0);
    expect(r.output).toContain('3 inhibit rules');
  });

  it('accepts every kind at once, two of a kind, and none (alerts dropped)', () => {
    const all = renderAlertmanagerConfig(model([...Object.values(RECEIVERS), RECEIVERS.webhook]));
    expect(checkConfig(all).status).toBe(0);
    expect(all.match(/- url: /g)).toHaveLength(2);
    const none = renderAlertmanagerConfig(model([]));
    expect(checkConfig(none).status).toBe(0);
    expect(none).toContain("receivers:\n  - name: 'null'\n");
  });

  it('is a check that can fail: a misspelled secret file setting is rejected', () => {
    const r = checkConfig(renderAlertmanagerConfig(model([RECEIVERS.slack])).replace('api_url_file', 'api_url_fil'));
    expect(r.status).not.toBe(0);
    expect(r.output).toContain('field api_url_fil not found');
  });
});

describe('renderAlertmanagerConfig, routing checked by amtool config routes test', { tags: ['alertmanager'] }, () => {
  const routesTest = (m: AlertmanagerModel, receiver: string, labels: string[]) => {
    const file = tempFile('alertmanager.yml', renderAlertmanagerConfig(m));
    return amtool(['config', 'routes', 'test', `--config.file=${file}`, `--verify.receivers=${receiver}`, ...labels]);
  };

  it('sends every alert to the one receiver, or to "null" when there is none', () => {
    for (const alertname of ALERT_NAMES) {
      expect(routesTest(model([RECEIVERS.webhook, RECEIVERS.slack]), 'default', [`alertname=${alertname}`, 'severity=critical']).status).toBe(0);
      expect(routesTest(model([]), 'null', [`alertname=${alertname}`]).status).toBe(0);
    }
  });

  it('is a check that can fail: a wrong receiver is reported', () => {
    expect(routesTest(model([RECEIVERS.webhook]), 'null', ['alertname=TargetDown']).status).not.toBe(0);
  });
});

// ---- Inhibition, which amtool cannot test offline: run real Alertmanager and ask its API.

const PORT = 18693;
const API = `http://127.0.0.1:${PORT}/api/v2`;

async function withAlertmanager(yml: string, fn: () => Promise<void>): Promise<void> {
  const config = tempFile('alertmanager.yml', yml);
  // Debian names the binary prometheus-alertmanager; no cluster port, state in a temporary directory.
  const args = [`--config.file=${config}`, `--storage.path=${join(dirname(config), 'data')}`, `--web.listen-address=127.0.0.1:${PORT}`, '--cluster.listen-address='];
  const alertmanager = start('prometheus-alertmanager', args);
  try {
    await alertmanager.until('it is ready', () => fetch(`http://127.0.0.1:${PORT}/-/ready`).then((r) => r.ok, () => false));
    await fn();
  } finally {
    await alertmanager.stop();
  }
}

type Labels = Record<string, string>;
const key = (l: Labels) => Object.entries(l).sort().map(([k, v]) => `${k}=${v}`).join(',');

/** Posts the alerts, then returns which of them Alertmanager reports as inhibited. */
async function inhibited(alerts: Labels[]): Promise<string[]> {
  const posted = await fetch(`${API}/alerts`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(alerts.map((labels) => ({ labels }))) });
  expect(posted.status).toBe(200);
  // Inhibition is evaluated as alerts arrive: poll briefly (at most 20 × 100 ms) until all are listed.
  type Listed = { labels: Labels; status: { inhibitedBy: string[] } };
  let got: Listed[] = [];
  for (let i = 0; i < 20 && got.length < alerts.length; i++) {
    got = (await (await fetch(`${API}/alerts`)).json()) as Listed[];
    if (got.length < alerts.length) await new Promise((r) => setTimeout(r, 100));
  }
  expect(got).toHaveLength(alerts.length);
  return got.filter((a) => a.status.inhibitedBy.length > 0).map((a) => key(a.labels)).sort();
}

describe('renderAlertmanagerConfig, inhibition checked by real Alertmanager', { tags: ['alertmanager'] }, () => {
  it('silences the consequences of a cause on the same instance, and nothing else', async () => {
    const a = (alertname: string, instance: string, more: Labels = {}) => ({ alertname, instance, ...more });
    const consequences = [
      a('HAProxyServerDown', 'lb:8404', { proxy: 'app', server: 's1' }),
      a('HAProxyHigh5xxRate', 'lb:8404', { proxy: 'app' }),
      a('NginxDown', 'web-1-exporter:9113'),
      a('MySQLReplicationLag', 'db-replica-exporter:9104'),
      a('MySQLReplicationIOThreadStopped', 'db-replica-exporter:9104'),
    ];
    const unrelated = [
      a('HAProxyServerDown', 'lb:8404', { proxy: 'other', server: 's1' }),
      a('NginxDown', 'web-2-exporter:9113'),
      a('MySQLReplicationLag', 'db-other-exporter:9104'),
    ];
    const causes = [
      a('HAProxyNoAliveBackend', 'lb:8404', { proxy: 'app' }),
      a('TargetDown', 'web-1-exporter:9113'),
      a('MySQLDown', 'db-replica-exporter:9104'),
    ];
    await withAlertmanager(renderAlertmanagerConfig(model([RECEIVERS.webhook])), async () => {
      expect(await inhibited([...causes, ...consequences, ...unrelated])).toEqual(consequences.map(key).sort());
    });
  });
});
