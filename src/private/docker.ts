import { resolveNamePrefix } from './validation';
import { createHash } from 'node:crypto';
import { container, network, provider } from '@cdktf/provider-docker';
import { provider as randomProvider } from '@cdktf/provider-random';
import { provider as tlsProvider } from '@cdktf/provider-tls';
import { Aspects, Fn, IAspect, TerraformProvider, TerraformStack, Token } from 'cdktf';
import { Construct, IConstruct } from 'constructs';

/** Canonical Go duration ("2s", "1m0s", "1m30s"): what the provider reads back. */
export function goDuration(seconds: number): string {
  if (seconds < 60) return `${seconds}s`;
  const m = Math.floor(seconds / 60);
  const s = seconds % 60;
  if (m < 60) return `${m}m${s}s`;
  return `${Math.floor(m / 60)}h${m % 60}m${s}s`;
}

export interface HealthcheckSpec {
  readonly test: string[];
  readonly intervalSeconds: number;
  readonly timeoutSeconds: number;
  readonly startPeriodSeconds: number;
  readonly retries: number;
}

/**
 * A container healthcheck plus a label holding its hash: the provider updates healthchecks
 * "in place" without changing anything (kreuzwerker#988), while a label change replaces.
 */
export function healthcheck(spec: HealthcheckSpec): { healthcheck: container.ContainerHealthcheck; label: container.ContainerLabels } {
  const hc: container.ContainerHealthcheck = {
    test: spec.test,
    interval: goDuration(spec.intervalSeconds),
    timeout: goDuration(spec.timeoutSeconds),
    startPeriod: goDuration(spec.startPeriodSeconds),
    retries: spec.retries,
  };
  return { healthcheck: hc, label: { label: 'dws.healthcheck-sha', value: shortHash(JSON.stringify(hc)) } };
}

export function shortHash(...parts: string[]): string {
  const h = createHash('sha256');
  for (const p of parts) h.update(p).update('\0');
  return h.digest('hex').slice(0, 12);
}

/** The provider types a stack has been promised a default of. */
const DEFAULT_PROVIDERS = new WeakMap<TerraformStack, Set<string>>();

/**
 * Gives the stack a default provider of this type at synth, unless it has an unaliased one by
 * then: a provider the user declares after the constructs (with their own host or
 * credentials) is the one used, and never a second, conflicting default.
 */
function ensureProvider(scope: Construct, type: string, create: (stack: TerraformStack) => void): void {
  const stack = TerraformStack.of(scope);
  const promised = DEFAULT_PROVIDERS.get(stack) ?? new Set<string>();
  DEFAULT_PROVIDERS.set(stack, promised);
  if (promised.has(type)) return;
  promised.add(type);
  Aspects.of(stack).add({
    visit(node: IConstruct) {
      if (node !== stack) return;
      const has = stack.node.findAll().some((c) => c instanceof TerraformProvider && c.terraformResourceType === type && !(c as TerraformProvider & { alias?: string }).alias);
      if (!has) create(stack);
    },
  });
}

export function ensureDockerProvider(scope: Construct): void {
  ensureProvider(scope, 'docker', (stack) => new provider.DockerProvider(stack, 'docker'));
}

export function ensureTlsProvider(scope: Construct): void {
  ensureProvider(scope, 'tls', (stack) => new tlsProvider.TlsProvider(stack, 'tls'));
}

export function ensureRandomProvider(scope: Construct): void {
  ensureProvider(scope, 'random', (stack) => new randomProvider.RandomProvider(stack, 'random'));
}

/** The name prefix a construct under scope uses: the one given, else derived from its stack's id. */
export function namePrefixFor(scope: Construct, constructPath: string, given: string | undefined): string {
  return resolveNamePrefix(TerraformStack.of(scope).node.id, constructPath, given);
}

export const DOCKER_DNS = '127.0.0.11';

/** The subnet Docker gave a network (its first IPAM config), as a Terraform expression. */
export function networkSubnet(n: network.Network): string {
  return Token.asString(Fn.lookup(Fn.element(Fn.tolist(n.interpolationForAttribute('ipam_config')), 0), 'subnet'));
}

/**
 * Terraform reads `${` and `%{` in any string as template syntax: a user's `${file("/etc/shadow")}`
 * would be evaluated on the deploying machine. Every text that reaches the configuration (files,
 * env, build args, labels, log options) goes through here: the literal parts are escaped, the
 * tokens in it (references to other resources, variables) are kept.
 */
export function terraformLiteral(text: string): string {
  return text
    .split(STRING_TOKEN)
    .map((part, i) => (i % 2 ? part : part.replace(/\$\{/g, () => '$${').replace(/%\{/g, () => '%%{')))
    .join('');
}

/** cdktf's marker of a token inside a string (its BEGIN_STRING_TOKEN_MARKER ... END_TOKEN_MARKER). */
const STRING_TOKEN = /(\$\{TfToken\[[^\]]*\]\})/;

/** terraformLiteral for each value of a record. */
export function terraformLiterals(values: Record<string, string>): Record<string, string> {
  return Object.fromEntries(Object.entries(values).map(([k, v]) => [k, terraformLiteral(v)]));
}

/**
 * CIS Docker Benchmark 5.3/5.25: drop every capability, add back only what the process needs
 * (written with the CAP_ prefix, as Docker reads them back), and forbid gaining privileges.
 */
export function hardening(add: string[]): { capabilities: { drop: string[]; add?: string[] }; securityOpts: string[] } {
  return {
    capabilities: { drop: ['ALL'], ...(add.length ? { add: add.map((c) => (c.startsWith('CAP_') ? c : `CAP_${c}`)) } : {}) },
    securityOpts: ['no-new-privileges:true'],
  };
}

/**
 * A memory limit without extra swap. Docker would otherwise set swap to twice the limit and
 * the provider would see a difference on every plan.
 */
export function memoryLimit(mb: number): { memory: number; memorySwap: number } {
  return { memory: mb, memorySwap: mb };
}

/** What stackContainer takes: a docker_container's config, with the library's defaults applied. */
export interface StackContainerSpec extends Omit<container.ContainerConfig, 'capabilities' | 'securityOpts' | 'memory' | 'memorySwap' | 'healthcheck'> {
  /** The `dws.role` label. */
  readonly role: string;
  /** Capabilities added back after all are dropped (without the CAP_ prefix is fine). @default none */
  readonly addCapabilities?: string[];
  readonly memoryMb: number;
  /** The healthcheck; its hash goes in a label, so a change replaces the container. @default none */
  readonly health?: HealthcheckSpec;
}

/**
 * The one way the library makes a container: every capability dropped but those added back, no
 * new privileges, a memory limit without extra swap, restarted unless stopped, the healthcheck
 * and its hash, the role label (then `labels`), and the uploaded files' text escaped for
 * Terraform (tokens kept).
 */
export function stackContainer(scope: Construct, id: string, spec: StackContainerSpec): container.Container {
  const { role, addCapabilities = [], memoryMb, health, labels = [], upload, restart = 'unless-stopped', ...rest } = spec;
  const hc = health && healthcheck(health);
  return new container.Container(scope, id, {
    ...rest,
    ...hardening(addCapabilities),
    ...memoryLimit(memoryMb),
    restart,
    ...(hc ? { healthcheck: hc.healthcheck } : {}),
    labels: [...(hc ? [hc.label] : []), { label: 'dws.role', value: role }, ...(Array.isArray(labels) ? labels : [])],
    // A lazy list (files known only at synth) escapes its own text when it is produced.
    ...(upload ? { upload: Array.isArray(upload) ? upload.map((u: container.ContainerUpload) => (u.content === undefined ? u : { ...u, content: terraformLiteral(u.content) })) : upload } : {}),
  });
}

/** How every container of a stack logs: a Docker log driver and its options. */
export interface ContainerLoggingProps {
  /** e.g. "json-file", "local", "syslog", "fluentd", "gelf", "journald". */
  readonly driver: string;
  /** The driver's options, e.g. { "syslog-address": "udp://10.0.0.5:514" }. */
  readonly options?: Record<string, string>;
}

/** Sets one log driver and its options on every docker_container under the scope it is added to. */
export class ContainerLogging implements IAspect {
  constructor(private readonly props: ContainerLoggingProps) {}

  visit(node: IConstruct): void {
    if (node instanceof container.Container) {
      node.logDriver = this.props.driver;
      node.logOpts = terraformLiterals(this.props.options ?? {});
    }
  }
}
