import { container, provider } from '@cdktf/provider-docker';
import { provider as tlsProvider } from '@cdktf/provider-tls';
import { Aspects, Testing, TerraformStack } from 'cdktf';
import { describe, expect, it } from 'vitest';
import { DistributedWebStack, POLICY_RULES, SecurityPolicy, ValidationError } from '../src';

/** Synthesizes with the policy on; returns the error annotations (empty when it passes). */
function errorsOf(build: (stack: TerraformStack) => void): string[] {
  const app = Testing.app();
  const stack = new TerraformStack(app, 'test');
  new provider.DockerProvider(stack, 'docker');
  new tlsProvider.TlsProvider(stack, 'tls');
  build(stack);
  try {
    app.synth();
    return [];
  } catch (e) {
    const lines = String((e as Error).message).split('\n').map((l) => l.trim());
    const found = lines.filter((l) => l.startsWith('['));
    if (!found.length) throw e;
    return found;
  }
}

const box = (stack: TerraformStack, props: Partial<container.ContainerConfig> = {}, id = 'c') =>
  new container.Container(stack, id, { name: `box-${id}`, image: 'busybox', ...props });

function withPolicy(props: Partial<container.ContainerConfig>, policy = new SecurityPolicy()) {
  return errorsOf((stack) => {
    box(stack, props);
    Aspects.of(stack).add(policy);
  });
}

describe('SecurityPolicy', () => {
  it.each([
    ['DWS-PORT-1', { ports: [{ internal: 3306, external: 3306, ip: '127.0.0.1' }] }, 'box-c publishes port 3306 (MySQL)'],
    ['DWS-PORT-1', { ports: [{ internal: 8404, external: 8404, ip: '127.0.0.1' }] }, 'box-c publishes port 8404 (HAProxy statistics)'],
    ['DWS-PORT-1', { ports: [{ internal: 80, external: 8080, ip: '127.0.0.1' }], labels: [{ label: 'dws.role', value: 'database-primary' }] }, 'box-c publishes port 80'],
    ['DWS-PORT-2', { ports: [{ internal: 80, external: 8080 }] }, 'box-c publishes port 80 without an address'],
    ['DWS-PRIV-1', { privileged: true }, 'box-c is privileged'],
    ['DWS-CAP-1', { capabilities: { add: ['CAP_SYS_ADMIN'] } }, 'box-c adds CAP_SYS_ADMIN'],
    ['DWS-SECRET-1', { env: ['MYSQL_ROOT_PASSWORD=hunter2'] }, 'box-c has MYSQL_ROOT_PASSWORD in its environment'],
    ['DWS-SECRET-1', { env: ['API_KEY=abc'] }, 'box-c has API_KEY in its environment'],
    ['DWS-HOST-1', { networkMode: 'host' }, 'box-c uses the host network'],
    ['DWS-HOST-1', { mounts: [{ type: 'bind', source: '/var/run/docker.sock', target: '/var/run/docker.sock' }] }, 'box-c mounts the Docker socket'],
  ] as const)('%s fails the synth: %j', (id, props, finding) => {
    const errors = withPolicy(props as Partial<container.ContainerConfig>);
    expect(errors).toEqual([`[test/c] [${id}] ${finding}. ${POLICY_RULES[id]}; fix it, or SecurityPolicy.suppress(construct, '${id}', 'reason').`]);
  });

  it.each([
    ['a port on an explicit address', { ports: [{ internal: 80, external: 8080, ip: '0.0.0.0' }] }],
    ['a password passed as a file', { env: ['DB_PASSWORD_FILE=/run/secrets/db'] }],
    ['an allowed capability', { capabilities: { add: ['CAP_NET_BIND_SERVICE'], drop: ['ALL'] } }],
    ['a named volume', { mounts: [{ type: 'volume', source: 'data', target: '/data' }] }],
  ])('passes %s', (_, props) => {
    expect(withPolicy(props as Partial<container.ContainerConfig>)).toEqual([]);
  });

  it('DWS-TLS-1 fails a load balancer with TLS off, unless suppressed', () => {
    const build = (suppress: boolean) => (stack: TerraformStack) => {
      const web = new DistributedWebStack(stack, 'web', { codebase: { image: 'shop:1' }, loadBalancer: { tls: false } });
      if (suppress) SecurityPolicy.suppress(web.loadBalancer, 'DWS-TLS-1', 'TLS ends at the corporate proxy in front of this host');
    };
    expect(errorsOf(build(false))).toEqual([expect.stringMatching(/^\[test\/web\/LoadBalancer\/Resource\] \[DWS-TLS-1\] test-lb has TLS off\./)]);
    expect(errorsOf(build(true))).toEqual([]);
  });

  it('takes the allowed capabilities as a prop', () => {
    expect(withPolicy({ capabilities: { add: ['CAP_NET_ADMIN'] } }, new SecurityPolicy({ allowedCapabilities: ['NET_ADMIN'] }))).toEqual([]);
    expect(withPolicy({ capabilities: { add: ['CAP_CHOWN'] } }, new SecurityPolicy({ allowedCapabilities: ['NET_ADMIN'] }))).toHaveLength(1);
  });

  it('sees escape-hatch overrides', () => {
    const errors = errorsOf((stack) => {
      box(stack).addOverride('privileged', true);
      Aspects.of(stack).add(new SecurityPolicy());
    });
    expect(errors).toHaveLength(1);
    expect(errors[0]).toContain('[DWS-PRIV-1]');
  });

  it('accepts a suppression with a reason, for the construct and its children, and records it', () => {
    const errors = errorsOf((stack) => {
      box(stack, { privileged: true, env: ['TOKEN=x'] });
      SecurityPolicy.suppress(stack, 'DWS-PRIV-1', 'docker-in-docker runner for CI only');
      Aspects.of(stack).add(new SecurityPolicy());
    });
    expect(errors).toEqual([expect.stringContaining('[DWS-SECRET-1]')]);
    const stack = new TerraformStack(Testing.app(), 'meta');
    SecurityPolicy.suppress(stack, 'DWS-PORT-2', 'published on every interface on purpose');
    expect(stack.node.metadata.map((m) => m.data)).toEqual([{ id: 'DWS-PORT-2', reason: 'published on every interface on purpose' }]);
  });

  it('refuses a suppression without a reason or with an unknown id', () => {
    const stack = new TerraformStack(Testing.app(), 'test');
    expect(() => SecurityPolicy.suppress(stack, 'DWS-PRIV-1', ' ')).toThrow(new ValidationError('test', 'suppression DWS-PRIV-1', 'needs a written reason of at least 10 characters (got " ")'));
    expect(() => SecurityPolicy.suppress(stack, 'DWS-NOPE' as any, 'a good long reason')).toThrow(/test: suppression id must be one of DWS-PORT-1, DWS-PORT-2/);
  });

  it('is on in DistributedWebStack, which passes it; a published stats port fails it', () => {
    expect(errorsOf((stack) => new DistributedWebStack(stack, 'web', { codebase: { image: 'shop:1' } }))).toEqual([]);
    const errors = errorsOf((stack) => {
      const web = new DistributedWebStack(stack, 'web', { codebase: { image: 'shop:1' } });
      web.loadBalancer.container.addOverride('ports', [
        { internal: 443, external: 8443, ip: '127.0.0.1' },
        { internal: 8404, external: 8404, ip: '127.0.0.1' },
      ]);
      new container.Container(web, 'Sidecar', { name: 'sidecar', image: 'busybox', env: ['DB_PASSWORD=literal'] });
    });
    expect(errors.map((e) => e.slice(0, e.indexOf('. '))).sort()).toEqual([
      '[test/web/LoadBalancer/Resource] [DWS-PORT-1] test-lb publishes port 8404 (HAProxy statistics)',
      '[test/web/Sidecar] [DWS-SECRET-1] sidecar has DB_PASSWORD in its environment',
    ]);
  });
});
