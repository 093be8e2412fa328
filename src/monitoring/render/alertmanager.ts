import { toYaml, Yaml } from './prometheus';

/** Where alerts go. Secrets are only ever read from files. */
export type AlertReceiver =
  | { readonly webhook: { readonly url: string } }
  | { readonly email: { readonly to: string; readonly from: string; readonly smarthost: string; readonly authUsername?: string; readonly authPasswordFile?: string } }
  | { readonly slack: { readonly apiUrlFile: string; readonly channel: string } }
  | { readonly pagerduty: { readonly routingKeyFile: string } };

export interface AlertmanagerModel {
  /** All get every alert; empty: a receiver without integrations, which drops alerts. */
  readonly receivers: readonly AlertReceiver[];
  readonly groupWaitSeconds: number;
  readonly groupIntervalSeconds: number;
  readonly repeatIntervalMinutes: number;
}

/** The one receiver's name: "default" with integrations, "null" without. */
export function receiverName(m: AlertmanagerModel): string {
  return m.receivers.length ? 'default' : 'null';
}

/** Renders alertmanager.yml. Pure: same model, same text. */
export function renderAlertmanagerConfig(m: AlertmanagerModel): string {
  return toYaml({
    route: {
      receiver: receiverName(m),
      // One notification per kind of failure: a host that dies takes several targets with it.
      group_by: ['alertname'],
      group_wait: `${m.groupWaitSeconds}s`,
      group_interval: `${m.groupIntervalSeconds}s`,
      repeat_interval: `${m.repeatIntervalMinutes}m`,
    },
    // One receiver with every integration: Alertmanager notifies (and retries) each separately.
    receivers: [{ name: receiverName(m), ...integrations(m.receivers) }],
    inhibit_rules: INHIBIT_RULES,
  });
}

// The cause silences its consequences on the same instance (and backend).
const INHIBIT_RULES: Yaml = [
  { source_matchers: ['alertname="HAProxyNoAliveBackend"'], target_matchers: ['alertname=~"HAProxyServerDown|HAProxyHigh5xxRate"'], equal: ['instance', 'proxy'] },
  // An unscraped exporter's other alerts are stale; TargetDown already says it.
  { source_matchers: ['alertname="TargetDown"'], target_matchers: ['alertname!="TargetDown"'], equal: ['instance'] },
  { source_matchers: ['alertname="MySQLDown"'], target_matchers: ['alertname=~"MySQLReplication.+"'], equal: ['instance'] },
];

function integrations(receivers: readonly AlertReceiver[]): { [key: string]: Yaml } {
  const out: { [key: string]: Yaml[] } = {};
  const add = (kind: string, config: { [key: string]: Yaml | undefined }) => (out[kind] ??= []).push({ ...config, send_resolved: true });
  for (const r of receivers) {
    if ('webhook' in r) add('webhook_configs', { url: r.webhook.url });
    else if ('email' in r) {
      const e = r.email;
      add('email_configs', { to: e.to, from: e.from, smarthost: e.smarthost, auth_username: e.authUsername, auth_password_file: e.authPasswordFile });
    } else if ('slack' in r) add('slack_configs', { api_url_file: r.slack.apiUrlFile, channel: r.slack.channel });
    else add('pagerduty_configs', { routing_key_file: r.pagerduty.routingKeyFile });
  }
  return out;
}
