import { Annotations, DefaultTokenResolver, IAspect, StringConcat, TerraformResource, Tokenization } from 'cdktf';
import { IConstruct } from 'constructs';
import { ValidationError } from '../errors';

/** The rules the policy checks on every docker_container it visits. */
export const POLICY_RULES = {
  'DWS-PORT-1': 'A database or admin port (MySQL, HAProxy stats, Prometheus, Docker API, SSH, ...) is published on the host',
  'DWS-PORT-2': 'A port is published without an explicit host address (Docker binds every interface, and the provider replaces the container on every apply)',
  'DWS-PRIV-1': 'A container runs privileged',
  'DWS-CAP-1': 'A container adds a capability beyond the allowed set',
  'DWS-SECRET-1': 'A secret is passed in plain environment (pass a file and its path in NAME_FILE instead)',
  'DWS-HOST-1': 'A container shares the host network or mounts the Docker socket',
  'DWS-TLS-1': 'A load balancer serves plain HTTP only (TLS is off)',
} as const;
export type PolicyRuleId = keyof typeof POLICY_RULES;

/** Container ports that must never be published. */
const ADMIN_PORTS = new Map<number, string>([
  [22, 'SSH'],
  [2375, 'Docker API'],
  [2376, 'Docker API'],
  [3306, 'MySQL'],
  [33060, 'MySQL X protocol'],
  [5432, 'PostgreSQL'],
  [6379, 'Redis'],
  [8404, 'HAProxy statistics'],
  [9090, 'Prometheus'],
  [9093, 'Alertmanager'],
  [9100, 'node exporter'],
]);

const DEFAULT_CAPABILITIES = ['CAP_CHOWN', 'CAP_SETUID', 'CAP_SETGID', 'CAP_NET_BIND_SERVICE', 'CAP_DAC_OVERRIDE', 'CAP_FOWNER', 'CAP_KILL'];
const SECRET_NAME = /(PASSWORD|PASSWD|SECRET|TOKEN|API_?KEY|PRIVATE_?KEY|CREDENTIAL)/i;
const SUPPRESSION = 'dws:policy-suppression';

export interface SecurityPolicyProps {
  /** Capabilities a container may add. @default CHOWN, SETUID, SETGID, NET_BIND_SERVICE, DAC_OVERRIDE, FOWNER, KILL */
  readonly allowedCapabilities?: string[];
}

interface Suppression {
  readonly id: PolicyRuleId;
  readonly reason: string;
}

/**
 * Checks every Docker container under the scope it is added to, at synth time. A finding is an
 * error annotation, which fails `cdktf synth`. DistributedWebStack adds it to itself; add it to
 * your stack with `Aspects.of(stack).add(new SecurityPolicy())`.
 */
export class SecurityPolicy implements IAspect {
  /**
   * Accepts a finding for a construct and everything below it. The reason is required and
   * recorded in the construct's metadata (and so in the synthesized manifest).
   */
  static suppress(scope: IConstruct, id: PolicyRuleId, reason: string): void {
    if (!(id in POLICY_RULES)) {
      throw new ValidationError(scope.node.path, 'suppression id', `must be one of ${Object.keys(POLICY_RULES).join(', ')} (got ${JSON.stringify(id)})`);
    }
    if (typeof reason !== 'string' || reason.trim().length < 10) {
      throw new ValidationError(scope.node.path, `suppression ${id}`, `needs a written reason of at least 10 characters (got ${JSON.stringify(reason)})`);
    }
    scope.node.addMetadata(SUPPRESSION, { id, reason: reason.trim() } satisfies Suppression);
  }

  private readonly allowedCapabilities: Set<string>;

  constructor(props: SecurityPolicyProps = {}) {
    this.allowedCapabilities = new Set((props.allowedCapabilities ?? DEFAULT_CAPABILITIES).map((c) => (c.startsWith('CAP_') ? c : `CAP_${c}`)));
  }

  visit(node: IConstruct): void {
    if (!(node instanceof TerraformResource) || node.terraformResourceType !== 'docker_container') return;
    const config = containerConfig(node);
    // A suppression on the container or on any construct above it counts.
    const suppressed = new Set(node.node.scopes.flatMap((s) => s.node.metadata.filter((m) => m.type === SUPPRESSION).map((m) => (m.data as Suppression).id)));
    for (const [id, message] of this.findings(config)) {
      if (!suppressed.has(id)) Annotations.of(node).addError(`[${id}] ${message}. ${POLICY_RULES[id]}; fix it, or SecurityPolicy.suppress(construct, '${id}', 'reason').`);
    }
  }

  /** Pure: the findings for one container's Terraform config (snake_case keys). */
  findings(c: Record<string, any>): [PolicyRuleId, string][] {
    const out: [PolicyRuleId, string][] = [];
    const name = typeof c.name === 'string' ? c.name : 'container';
    const role = (c.labels ?? []).find((l: any) => l.label === 'dws.role')?.value as string | undefined;
    for (const p of c.ports ?? []) {
      const admin = ADMIN_PORTS.get(Number(p.internal));
      if (admin || role?.startsWith('database')) out.push(['DWS-PORT-1', `${name} publishes port ${p.internal}${admin ? ` (${admin})` : ''}`]);
      if (p.ip === undefined || p.ip === '') out.push(['DWS-PORT-2', `${name} publishes port ${p.internal} without an address`]);
    }
    const tls = (c.labels ?? []).find((l: any) => l.label === 'dws.tls')?.value as string | undefined;
    if (role === 'load-balancer' && tls === 'off') out.push(['DWS-TLS-1', `${name} has TLS off`]);
    if (c.privileged === true) out.push(['DWS-PRIV-1', `${name} is privileged`]);
    for (const cap of c.capabilities?.add ?? []) {
      if (!this.allowedCapabilities.has(cap)) out.push(['DWS-CAP-1', `${name} adds ${cap}`]);
    }
    for (const entry of c.env ?? []) {
      const [key] = String(entry).split('=', 1);
      if (SECRET_NAME.test(key) && !/_FILE$/i.test(key)) out.push(['DWS-SECRET-1', `${name} has ${key} in its environment`]);
    }
    if (c.network_mode === 'host') out.push(['DWS-HOST-1', `${name} uses the host network`]);
    const sources = [...(c.mounts ?? []).map((m: any) => m.source), ...(c.volumes ?? []).map((v: any) => v.host_path)];
    if (sources.some((s) => typeof s === 'string' && s.endsWith('docker.sock'))) out.push(['DWS-HOST-1', `${name} mounts the Docker socket`]);
    return out;
  }
}

function containerConfig(resource: TerraformResource): Record<string, any> {
  // Resolved, so lazily rendered values (env from addEnvironment) and overrides are seen too.
  const tf = Tokenization.resolve(resource.toTerraform(), { scope: resource, resolver: new DefaultTokenResolver(new StringConcat()) }) as { resource: Record<string, Record<string, any>> };
  return Object.values(tf.resource.docker_container)[0] ?? {};
}
