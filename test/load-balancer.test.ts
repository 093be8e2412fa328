import { TerraformVariable } from 'cdktf';
import { container } from '@cdktf/provider-docker';
import { describe, expect, it } from 'vitest';
import { ILoadBalancerTarget, LoadBalancer, ValidationError } from '../src';
import { byName, resources, synthStack, testNetwork, uploaded } from './helpers';

const CONFIG = '/usr/local/etc/haproxy/haproxy.cfg';
const target = (...hosts: string[]): ILoadBalancerTarget => ({
  loadBalancerServers: () => hosts.map((h) => ({ name: h, host: h, port: 80 })),
});

describe('LoadBalancer', () => {
  it('given targets, renders a round-robin backend with health checks and publishes only on 127.0.0.1', () => {
    const { json, tf } = synthStack((stack) => {
      new LoadBalancer(stack, 'lb', { networks: [testNetwork(stack)], targets: [target('a', 'b')] });
    });
    expect(json).toHaveResourceWithProperties(container.Container, {
      name: 'test-lb',
      ports: [
        { internal: 80, external: 8080, ip: '127.0.0.1', protocol: 'tcp' },
        { internal: 443, external: 8443, ip: '127.0.0.1', protocol: 'tcp' },
      ],
      user: 'root',
      entrypoint: ['haproxy', '-W', '-db', '-f', CONFIG],
      stop_signal: 'SIGUSR1',
      restart: 'unless-stopped',
      wait: true,
    });
    const cfg = uploaded(byName(tf, 'docker_container', 'test-lb'), CONFIG);
    expect(cfg).toContain('  balance roundrobin\n');
    expect(cfg).toContain('  http-check send meth GET uri /healthz ver HTTP/1.1 hdr Host localhost\n');
    expect(cfg).toContain('  http-check expect status 200\n');
    expect(cfg).toContain('  default-server check inter 2s fall 3 rise 2 observe layer7 error-limit 3 on-error mark-down slowstart 10s resolvers docker init-addr last,libc,none resolve-prefer ipv4\n');
    expect(cfg).toContain('  retry-on conn-failure empty-response response-timeout 502 503 504\n');
    expect(cfg).toContain('  option redispatch 1\n');
    expect(cfg).toContain('  http-request disable-l7-retry unless METH_GET || METH_HEAD || METH_OPTIONS\n');
    expect(cfg).toContain('  server-template a. 2 a:80\n  server-template b. 2 b:80\n');
    expect(cfg).toContain('nameserver docker 127.0.0.11:53');
  });

  it('keeps statistics and metrics off the public port', () => {
    const { tf } = synthStack((stack) => {
      new LoadBalancer(stack, 'lb', { networks: [testNetwork(stack)], targets: [target('a')], statsPort: 9000 });
    });
    const lb = byName(tf, 'docker_container', 'test-lb');
    expect(lb.ports.map((p: any) => p.internal)).toEqual([80, 443]);
    const cfg = uploaded(lb, CONFIG);
    const stats = cfg.slice(cfg.indexOf('frontend stats'), cfg.indexOf('\nbackend app'));
    // No management network: only 127.0.0.1 inside the container (its healthcheck).
    expect(stats.match(/^  bind .*$/gm)).toEqual(['  bind 127.0.0.1:9000']);
    expect(stats).toContain('use-service prometheus-exporter if { path /metrics }');
    const pub = cfg.slice(cfg.indexOf('frontend public'), cfg.indexOf('frontend stats'));
    expect(pub).not.toMatch(/stats|metrics/);
  });

  it('refuses sources outside publish.allowFrom before TLS, and refuses a malformed CIDR', () => {
    const { tf } = synthStack((stack) => {
      new LoadBalancer(stack, 'lb', { networks: [testNetwork(stack)], targets: [target('a')], publish: { allowFrom: ['10.0.0.0/8', '203.0.113.7/32'] } });
    });
    const cfg = uploaded(byName(tf, 'docker_container', 'test-lb'), CONFIG);
    const pub = cfg.slice(cfg.indexOf('frontend public'), cfg.indexOf('frontend stats'));
    expect(pub.split('\n').slice(1, 3)).toEqual(['  bind :80', '  tcp-request connection reject unless { src 10.0.0.0/8 203.0.113.7/32 }']);
    // The default, everyone, renders no rule.
    const { tf: open } = synthStack((stack) => {
      new LoadBalancer(stack, 'lb', { networks: [testNetwork(stack)], targets: [target('a')] });
    });
    expect(uploaded(byName(open, 'docker_container', 'test-lb'), CONFIG)).not.toContain('tcp-request');
    for (const bad of ['10.0.0.0', '10.0.0.0/33', '300.1.1.1/8', 'any']) {
      expect(() =>
        synthStack((stack) => {
          new LoadBalancer(stack, 'lb', { networks: [testNetwork(stack)], targets: [target('a')], publish: { allowFrom: [bad] } });
        }),
      ).toThrow(`test/lb: publish.allowFrom.0 must be an IPv4 CIDR such as "10.0.0.0/8" or "203.0.113.7/32" (got "${bad}")`);
    }
  });

  it('reads PROXY protocol and keeps forwarding headers only from the upstream sources named, and refuses a malformed CIDR', () => {
    const { tf } = synthStack((stack) => {
      new LoadBalancer(stack, 'lb', { networks: [testNetwork(stack)], targets: [target('a')], upstream: { proxyProtocolFrom: ['10.9.0.0/16'], trustForwardedHeadersFrom: ['10.8.0.5/32'] }, timeouts: { tunnelSeconds: 600 } });
    });
    const cfg = uploaded(byName(tf, 'docker_container', 'test-lb'), CONFIG);
    expect(cfg).toContain('  tcp-request connection expect-proxy layer4 if { src 10.9.0.0/16 }\n');
    expect(cfg).toContain('  acl from_trusted_proxy src 10.8.0.5/32\n  http-request del-header X-Forwarded-For unless from_trusted_proxy\n');
    expect(cfg).toContain('  timeout tunnel 600s\n');
    // By default nobody is trusted: every client's forwarding headers are dropped.
    const { tf: direct } = synthStack((stack) => {
      new LoadBalancer(stack, 'lb', { networks: [testNetwork(stack)], targets: [target('a')] });
    });
    const plain = uploaded(byName(direct, 'docker_container', 'test-lb'), CONFIG);
    expect(plain).not.toContain('expect-proxy');
    expect(plain).toContain('  http-request del-header X-Forwarded-For\n');
    for (const field of ['proxyProtocolFrom', 'trustForwardedHeadersFrom']) {
      expect(() =>
        synthStack((stack) => {
          new LoadBalancer(stack, 'lb', { networks: [testNetwork(stack)], targets: [target('a')], upstream: { [field]: ['10.0.0.0/40'] } });
        }),
      ).toThrow(`test/lb: upstream.${field}.0 must be an IPv4 CIDR such as "10.0.0.0/8" or "203.0.113.7/32" (got "10.0.0.0/40")`);
    }
  });

  it('renders health-check settings from props', () => {
    const { tf } = synthStack((stack) => {
      new LoadBalancer(stack, 'lb', {
        networks: [testNetwork(stack)],
        targets: [target('a')],
        healthCheck: { path: '/up', expectStatus: 204, intervalSeconds: 1, fall: 2, rise: 5, timeoutSeconds: 1 },
      });
    });
    const cfg = uploaded(byName(tf, 'docker_container', 'test-lb'), CONFIG);
    expect(cfg).toContain('uri /up ver');
    expect(cfg).toContain('expect status 204');
    expect(cfg).toContain('check inter 1s fall 2 rise 5');
    expect(cfg).toContain('timeout check 1s');
  });

  it('renders targets added after creation (lazily), in order', () => {
    const { tf } = synthStack((stack) => {
      const lb = new LoadBalancer(stack, 'lb', { networks: [testNetwork(stack)] });
      lb.addTarget(target('first'));
      lb.addServer({ name: 'extra', host: 'extra-host', port: 8081 });
    });
    const cfg = uploaded(byName(tf, 'docker_container', 'test-lb'), CONFIG);
    expect(cfg).toContain('  server-template extra. 2 extra-host:8081\n  server-template first. 2 first:80\n');
  });

  it('uses the overridden image and keeps it on destroy', () => {
    const { json } = synthStack((stack) => {
      new LoadBalancer(stack, 'lb', { networks: [testNetwork(stack)], targets: [target('a')], image: 'registry.local/haproxy:3.0' });
    });
    expect(json).toHaveResourceWithProperties({ tfResourceType: 'docker_image' } as any, { name: 'registry.local/haproxy:3.0', keep_locally: true });
  });

  it('writes healthcheck durations as canonical Go strings and labels their hash', () => {
    const { tf } = synthStack((stack) => {
      new LoadBalancer(stack, 'lb', { networks: [testNetwork(stack)], targets: [target('a')] });
    });
    const lb = byName(tf, 'docker_container', 'test-lb');
    expect(lb.healthcheck).toMatchObject({ interval: '2s', timeout: '2s', start_period: '10s', retries: 3 });
    expect(lb.labels.map((l: any) => l.label)).toContain('dws.healthcheck-sha');
  });

  it('fails validation when it has no backend servers', () => {
    expect(() =>
      synthStack((stack) => {
        new LoadBalancer(stack, 'lb', { networks: [testNetwork(stack)] });
      }),
    ).toThrow(/LoadBalancer has no backend servers: pass `targets` or call addTarget\(\)/);
  });

  it('throws on a duplicate server name and leaves the backend as it was', () => {
    let lb!: LoadBalancer;
    synthStack((stack) => {
      lb = new LoadBalancer(stack, 'lb', { networks: [testNetwork(stack)], targets: [target('a')] });
      expect(() => lb.addTarget(target('b', 'a'))).toThrow(new ValidationError('test/lb', 'server.name', 'must be unique in the backend (got "a" twice)'));
    });
    expect(lb.backendServers().map((s) => s.name)).toEqual(['a']);
  });

  it('returns copies of its servers', () => {
    synthStack((stack) => {
      const lb = new LoadBalancer(stack, 'lb', { networks: [testNetwork(stack)], targets: [target('a')] });
      (lb.backendServers()[0] as any).name = 'changed';
      expect(lb.backendServers()[0].name).toBe('a');
    });
  });

  it('adds a docker provider only when the stack has none', () => {
    const { tf } = synthStack((stack) => {
      new LoadBalancer(stack, 'lb', { networks: [testNetwork(stack)], targets: [target('a')] });
      new LoadBalancer(stack, 'lb2', { networks: [testNetwork(stack, 'n2')], targets: [target('b')], namePrefix: 'other' });
    });
    expect(Object.keys(tf.provider ?? {}).sort()).toEqual(['docker', 'tls']);
    expect((tf.provider as any).docker).toHaveLength(1);
    expect(resources(tf, 'docker_container').map((c) => c.name).sort()).toEqual(['other-lb', 'test-lb']);
  });
});

describe('LoadBalancer TLS', () => {
  it('by default generates a self-signed certificate and serves HTTPS, HTTP redirecting to it', () => {
    const { tf } = synthStack((stack) => {
      const lb = new LoadBalancer(stack, 'lb', { networks: [testNetwork(stack)], targets: [target('a')], publish: { address: '10.0.0.5', httpPort: 80, httpsPort: 443 } });
      expect(lb.url).toBe('https://10.0.0.5:443/');
    });
    expect(resources(tf, 'tls_private_key')).toEqual([{ algorithm: 'ECDSA', ecdsa_curve: 'P256' }]);
    expect(resources(tf, 'tls_self_signed_cert')[0]).toMatchObject({
      dns_names: ['localhost'],
      ip_addresses: ['10.0.0.5'],
      validity_period_hours: 2160,
      subject: [{ common_name: 'localhost' }],
    });
    const lb = byName(tf, 'docker_container', 'test-lb');
    const pem = lb.upload.find((u: any) => u.file === '/usr/local/etc/haproxy/certs/site.pem');
    expect(pem.content).toMatch(/^\$\{tls_self_signed_cert\.[^}]+\.cert_pem\}\n\$\{tls_private_key\.[^}]+\.private_key_pem\}$/);
    expect(pem.permissions).toBe('0600');
    const cfg = uploaded(lb, CONFIG);
    expect(cfg).toContain('  bind :443 ssl crt /usr/local/etc/haproxy/certs/site.pem alpn h2,http/1.1\n');
    expect(cfg).toContain('http-request redirect location https://%[req.hdr(host),field(1,:)]%[capture.req.uri] code 308 unless { ssl_fc }');
    expect(cfg).toContain('ssl-default-bind-options prefer-client-ciphers ssl-min-ver TLSv1.2 no-tls-tickets');
    expect(cfg).toContain('  user haproxy\n  group haproxy\n');
  });

  it('names the HTTPS port in the redirect when it is not 443', () => {
    const { tf } = synthStack((stack) => {
      new LoadBalancer(stack, 'lb', { networks: [testNetwork(stack)], targets: [target('a')] });
    });
    expect(uploaded(byName(tf, 'docker_container', 'test-lb'), CONFIG)).toContain('https://%[req.hdr(host),field(1,:)]:8443%[capture.req.uri] code 308');
  });

  it('takes a certificate you bring, and generates nothing', () => {
    const { tf } = synthStack((stack) => {
      // Tokens stay references; text that merely looks like one (`${var.cert}`) would be escaped.
      const cert = new TerraformVariable(stack, 'cert', { type: 'string' }).stringValue;
      const key = new TerraformVariable(stack, 'key', { type: 'string', sensitive: true }).stringValue;
      new LoadBalancer(stack, 'lb', { networks: [testNetwork(stack)], targets: [target('a')], tls: { certificatePem: cert, privateKeyPem: key } });
    });
    expect(resources(tf, 'tls_self_signed_cert')).toEqual([]);
    expect(byName(tf, 'docker_container', 'test-lb').upload[1]).toMatchObject({ content: '${var.cert}\n${var.key}', permissions: '0600' });
  });

  it('takes the failure handling from props', () => {
    const { tf } = synthStack((stack) => {
      new LoadBalancer(stack, 'lb', { networks: [testNetwork(stack)], targets: [target('a')], failureHandling: { retries: 5, errorLimit: 0, slowStartSeconds: 30 } });
    });
    const cfg = uploaded(byName(tf, 'docker_container', 'test-lb'), CONFIG);
    expect(cfg).toContain('  retries 5\n');
    expect(cfg).toContain('  default-server check inter 2s fall 3 rise 2 slowstart 30s resolvers docker');
    expect(() =>
      synthStack((stack) => new LoadBalancer(stack, 'lb', { networks: [testNetwork(stack)], targets: [target('a')], failureHandling: { retries: 11 } })),
    ).toThrow('test/lb: failureHandling.retries must be an integer between 0 and 10 (got 11)');
  });

  it('with tls: false, serves HTTP only and says so in a label', () => {
    let url = '';
    const { tf } = synthStack((stack) => {
      url = new LoadBalancer(stack, 'lb', { networks: [testNetwork(stack)], targets: [target('a')], tls: false }).url;
    });
    const lb = byName(tf, 'docker_container', 'test-lb');
    expect(url).toBe('http://127.0.0.1:8080/');
    expect(lb.ports).toHaveLength(1);
    expect(lb.labels).toContainEqual({ label: 'dws.tls', value: 'off' });
    expect(uploaded(lb, CONFIG)).not.toContain('ssl');
  });
});

describe('LoadBalancer pair', () => {
  const synthPair = (pair: Record<string, unknown> = {}, extra: Record<string, unknown> = {}) =>
    synthStack((stack) => {
      const edge = testNetwork(stack, 'edge');
      new LoadBalancer(stack, 'lb', { networks: [edge, testNetwork(stack, 'app')], managementNetwork: testNetwork(stack, 'mgmt', true), targets: [target('a', 'b')], pair: { subnet: '10.213.0.0/24', ...pair }, ...extra });
    }).tf;

  it('runs two HAProxy + keepalived nodes with fixed edge addresses, a floating IP and nothing published', () => {
    const tf = synthPair();
    const nodes = ['test-lb-1', 'test-lb-2'].map((n) => byName(tf, 'docker_container', n));
    nodes.forEach((node, i) => {
      expect(node.ports).toBeUndefined();
      expect(node.entrypoint).toEqual(['bash', '/etc/dws/lb-node.sh']);
      expect(node.stop_signal).toBe('SIGTERM');
      expect(node.capabilities).toEqual({ drop: ['ALL'], add: ['CAP_SETUID', 'CAP_SETGID', 'CAP_KILL', 'CAP_NET_BIND_SERVICE', 'CAP_NET_ADMIN', 'CAP_NET_RAW'] });
      expect(node.networks_advanced[0]).toMatchObject({ aliases: [`test-lb-${i + 1}`], ipv4_address: `10.213.0.${11 + i}` });
      // Each node's stats listen on its own management alias.
      expect(node.networks_advanced[2].aliases).toEqual([`test-lb-${i + 1}-mgmt`]);
      expect(uploaded(node, CONFIG)).toContain(`  bind test-lb-${i + 1}-mgmt:8404\n`);
      const ka = uploaded(node, '/etc/dws/keepalived.conf.in');
      expect(ka).toContain(`  priority ${i === 0 ? 150 : 100}\n`);
      expect(ka).toContain(`  unicast_src_ip 10.213.0.${11 + i}\n`);
      expect(ka).toContain(`    10.213.0.${12 - i}\n`);
      expect(ka).toContain('    10.213.0.10/24 dev __LB_INTERFACE__\n');
      expect(ka).toContain('  advert_int 0.2\n');
      expect(ka).toContain('  nopreempt\n');
    });
    // The same generated router id on both; the image is built from the HAProxy image.
    const rid = (n: any) => /virtual_router_id (\d+)/.exec(uploaded(n, '/etc/dws/keepalived.conf.in'))![1];
    expect(rid(nodes[0])).toBe(rid(nodes[1]));
    const img = resources(tf, 'docker_image').find((i) => i.name.startsWith('test-lb-keepalived:'));
    expect(img.build.build_args.HAPROXY_IMAGE).toMatch(/^\$\{docker_image\.lb_Image_[0-9A-F]+\.name\}$/);
  });

  it('authenticates VRRPv2 adverts with a generated password; honours preempt and a chosen router id', () => {
    const tf = synthPair({ advertIntervalSeconds: 1, preempt: true, routerId: 42 });
    const ka = uploaded(byName(tf, 'docker_container', 'test-lb-1'), '/etc/dws/keepalived.conf.in');
    expect(ka).toMatch(/auth_pass \$\{random_password\.lb_VrrpPassword_[0-9A-F]+\.result\}/);
    expect(ka).toContain('  virtual_router_id 42\n');
    expect(ka).not.toContain('nopreempt');
    expect(resources(tf, 'random_password')).toHaveLength(1);
  });

  it('in a small subnet, puts the floating IP and the nodes in its lower half by default', () => {
    const tf = synthPair({ subnet: '10.213.0.0/28' });
    const addresses = resources(tf, 'docker_container').map((c) => c.networks_advanced.find((n: any) => n.ipv4_address)?.ipv4_address).sort();
    expect(addresses).toEqual(['10.213.0.3', '10.213.0.4']);
    expect(uploaded(byName(tf, 'docker_container', 'test-lb-1'), '/etc/dws/keepalived.conf.in')).toContain('10.213.0.2/28 dev');
  });

  it('rejects a bad pair with the field, the value and what is allowed', () => {
    const bad: [Record<string, unknown>, Record<string, unknown>, string][] = [
      [{ subnet: '10.213.0.1/24' }, {}, 'test/lb: pair.subnet must be an IPv4 network such as "10.213.0.0/24" (prefix length 28 or less, no host bits set) (got "10.213.0.1/24")'],
      [{ virtualIp: '10.214.0.10' }, {}, 'test/lb: pair.virtualIp must be host addresses in pair.subnet 10.213.0.0/24 (got "10.214.0.10")'],
      // Docker's dynamic range: another container may be given it first.
      [{ virtualIp: '10.213.0.200' }, {}, 'test/lb: pair.virtualIp must be in the lower half of pair.subnet 10.213.0.0/24 (below 10.213.0.128/25, which Docker hands out to containers) (got "10.213.0.200")'],
      [{ nodeAddresses: ['10.213.0.11', '10.213.0.128'] }, {}, 'test/lb: pair.nodeAddresses must be in the lower half of pair.subnet 10.213.0.0/24 (below 10.213.0.128/25, which Docker hands out to containers) (got "10.213.0.128")'],
      [{ nodeAddresses: ['10.213.0.10', '10.213.0.12'] }, {}, 'test/lb: pair needs three different addresses for the floating IP and the two nodes (got ["10.213.0.10","10.213.0.10","10.213.0.12"])'],
      [{ advertIntervalSeconds: 0.001 }, {}, 'test/lb: pair.advertIntervalSeconds must be a whole number of seconds from 1 to 255, or a fraction from 0.05 to 40.95 in hundredths (got 0.001)'],
      [{}, { publish: { httpsPort: 9443 } }, 'test/lb: publish.httpsPort is not available with a pair: nothing is published, clients use the floating IP pair.virtualIp (got 9443)'],
    ];
    for (const [pair, extra, message] of bad) expect(() => synthPair(pair, extra)).toThrow(message);
  });
});

describe('terraformLiteral', () => {
  it('escapes Terraform template syntax and nothing else', async () => {
    const { terraformLiteral } = await import('../src/private/docker');
    expect(terraformLiteral('echo "${A}" %{if} $B 100%')).toBe('echo "$${A}" %%{if} $B 100%');
  });
});
