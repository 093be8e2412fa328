import { resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { DistributedWebStack } from '../src';
import { DB_PATHS } from '../src/database/render/mysql';
import { baseName, byName, passwordLiterals, resources, synthStack, uploaded } from './helpers';

const REPO = resolve(__dirname, '..');

function webStack(props: Partial<ConstructorParameters<typeof DistributedWebStack>[2]> = {}) {
  let web!: DistributedWebStack;
  const out = synthStack((stack) => {
    web = new DistributedWebStack(stack, 'web', { codebase: { image: 'registry.example.com/shop:1.4.2' }, ...props });
  });
  return { ...out, web };
}

describe('DistributedWebStack', () => {
  const { tf, json, web } = webStack();
  const containers = resources(tf, 'docker_container');
  const networkRef = (n: { name: string }) => n.name;

  it('creates one network per tier; data and mgmt are internal', () => {
    expect(resources(tf, 'docker_network').map((n) => [n.name, n.internal]).sort()).toEqual([
      ['test-app', false],
      ['test-data', true],
      ['test-edge', false],
      ['test-mgmt', true],
    ]);
  });

  it('publishes ports on the load balancer only, on an explicit address', () => {
    const publishing = containers.filter((c) => c.ports?.length);
    expect(publishing.map((c) => c.name)).toEqual(['test-lb']);
    expect(publishing[0].ports).toEqual([
      { internal: 80, external: 8080, ip: '127.0.0.1', protocol: 'tcp' },
      { internal: 443, external: 8443, ip: '127.0.0.1', protocol: 'tcp' },
    ]);
  });

  it('puts the databases, their router and failover agent on the internal data network only (the router\'s and the agent\'s metrics also on mgmt)', () => {
    const data = `\${docker_network.web_DataNetwork_${logicalSuffix(tf, 'test-data')}.name}`;
    const mgmt = `\${docker_network.web_ManagementNetwork_${logicalSuffix(tf, 'test-mgmt')}.name}`;
    for (const name of ['test-db-primary', 'test-db-replica']) {
      expect(byName(tf, 'docker_container', name).networks_advanced.map(networkRef)).toEqual([data]);
    }
    for (const name of ['test-db-router', 'test-db-failover']) expect(byName(tf, 'docker_container', name).networks_advanced.map(networkRef)).toEqual([data, mgmt]);
  });

  it('joins the tiers as designed: lb on edge+app(+mgmt), nginx on app(+mgmt), app on app+data', () => {
    const nets = (name: string) => byName(tf, 'docker_container', name).networks_advanced.map((n: any) => netName(tf, n.name));
    expect(nets('test-lb')).toEqual(['test-edge', 'test-app', 'test-mgmt']);
    // mgmt only for the statistics and status pages (see the monitoring tests).
    expect(nets('test-server-1-nginx')).toEqual(['test-app', 'test-mgmt']);
    expect(nets('test-server-2-app')).toEqual(['test-app', 'test-data']);
  });

  it('has both app servers in the load balancer backend', () => {
    const cfg = uploaded(byName(tf, 'docker_container', 'test-lb'), '/usr/local/etc/haproxy/haproxy.cfg');
    expect(cfg.match(/^  server-template .*$/gm)).toEqual(['  server-template test-server-1-nginx. 2 test-server-1-nginx:80', '  server-template test-server-2-nginx. 2 test-server-2-nginx:80']);
  });

  it('serves statistics only on the management network (and 127.0.0.1 for the healthcheck)', () => {
    const lb = byName(tf, 'docker_container', 'test-lb');
    const mgmt = lb.networks_advanced.find((n: any) => netName(tf, n.name) === 'test-mgmt');
    expect(mgmt.aliases).toEqual(['test-lb-mgmt']);
    const cfg = uploaded(lb, '/usr/local/etc/haproxy/haproxy.cfg');
    expect(cfg.match(/^frontend stats\n((?:  bind .*\n)+)/m)?.[1]).toBe('  bind 127.0.0.1:8404\n  bind test-lb-mgmt:8404\n');
    expect(web.loadBalancer.statsHost).toBe('test-lb-mgmt');
  });

  it('lets the app user in only through the database router, replication only between the nodes, the agent from its container', () => {
    const entrypoint = uploaded(byName(tf, 'docker_container', 'test-db-primary'), DB_PATHS.entrypoint);
    expect(entrypoint.match(/CREATE USER IF NOT EXISTS '\w+'@'[^']*'/g)).toEqual([
      "CREATE USER IF NOT EXISTS 'app'@'test-db-router.%'",
      "CREATE USER IF NOT EXISTS 'repl'@'test-db-primary.%'",
      "CREATE USER IF NOT EXISTS 'repl'@'test-db-replica.%'",
      "CREATE USER IF NOT EXISTS 'exporter'@'test-db-primary-exporter.%'",
      "CREATE USER IF NOT EXISTS 'exporter'@'test-db-replica-exporter.%'",
      "CREATE USER IF NOT EXISTS 'dws_failover'@'test-db-failover.%'",
      "CREATE USER IF NOT EXISTS 'dws_backup'@'test-db-backup.%'",
    ]);
    for (const name of ['test-server-1-app', 'test-server-2-app']) {
      expect(byName(tf, 'docker_container', name).env).toEqual(expect.arrayContaining(['DB_WRITE_HOST=test-db-router', 'DB_PORT=3306', 'DB_READ_HOST=test-db-router', 'DB_READ_PORT=3307']));
    }
  });

  it('outputs DOCKER-USER rules for the allow-list only when asked', () => {
    expect(Object.keys(tf.output ?? {})).not.toContain('test_docker_user_rules');
    const { tf: j } = webStack({ hostFirewall: true, loadBalancer: { publish: { address: '0.0.0.0', allowFrom: ['10.1.0.0/16'] } } });
    const rules = (j as any).output.test_docker_user_rules.value as string;
    expect(rules).toContain('-A DWS-test -p tcp -m conntrack --ctstate NEW --ctdir ORIGINAL --ctorigdstport 8443 -s 10.1.0.0/16 -j RETURN');
    expect(rules).toContain('-A DWS-test -p tcp -m conntrack --ctstate NEW --ctdir ORIGINAL --ctorigdstport 8080 -j DROP');
  });

  it('starts both database nodes read-only (the failover agent opens the writer)', () => {
    for (const name of ['test-db-primary', 'test-db-replica']) {
      expect(uploaded(byName(tf, 'docker_container', name), DB_PATHS.config)).toMatch(/^super_read_only = ON$/m);
    }
  });

  it('hardens every container: all capabilities dropped, a few added back, no new privileges, a memory limit', () => {
    const caps = Object.fromEntries(containers.map((c) => [baseName(c.name), c.capabilities.add ?? []]));
    expect(caps).toEqual({
      'test-lb': ['CAP_SETUID', 'CAP_SETGID', 'CAP_KILL', 'CAP_NET_BIND_SERVICE'],
      'test-server-1-nginx': ['CAP_CHOWN', 'CAP_SETUID', 'CAP_SETGID', 'CAP_NET_BIND_SERVICE'],
      'test-server-2-nginx': ['CAP_CHOWN', 'CAP_SETUID', 'CAP_SETGID', 'CAP_NET_BIND_SERVICE'],
      'test-server-1-app': [],
      'test-server-2-app': [],
      'test-db-primary': ['CAP_CHOWN', 'CAP_DAC_OVERRIDE', 'CAP_FOWNER', 'CAP_SETUID', 'CAP_SETGID'],
      'test-db-replica': ['CAP_CHOWN', 'CAP_DAC_OVERRIDE', 'CAP_FOWNER', 'CAP_SETUID', 'CAP_SETGID'],
      'test-db-router': [],
      'test-db-failover': [],
      'test-db-backup': [],
      // Monitoring: none at all.
      'test-prometheus': [],
      'test-alertmanager': [],
      'test-blackbox': [],
      'test-node-exporter': [],
      'test-db-primary-exporter': [],
      'test-db-replica-exporter': [],
      'test-server-1-nginx-exporter': [],
      'test-server-2-nginx-exporter': [],
    });
    for (const c of containers) {
      expect(c.capabilities.drop).toEqual(['ALL']);
      expect(c.security_opts).toEqual(['no-new-privileges:true']);
      expect(c.memory).toBeGreaterThan(0);
      expect(c.privileged).toBeUndefined();
    }
  });

  it('has no password literal in the synthesized JSON', () => {
    expect(passwordLiterals(json)).toEqual([]);
    // root, replication, app, failover, exporter, backup, and the backups' encryption key
    expect(resources(tf, 'random_password')).toHaveLength(7);
  });

  it('outputs the URL and exposes every part', () => {
    expect(tf.output).toEqual({
      test_url: { value: 'https://127.0.0.1:8443/', description: 'Where clients reach the stack' },
      test_certificate: { value: expect.stringMatching(/^\$\{tls_self_signed_cert\.[^}]+\.cert_pem\}$/), description: 'The load balancer certificate (PEM)' },
    });
    expect(web.loadBalancer.container).toBeDefined();
    expect(web.appServers.servers).toHaveLength(2);
    expect(web.database.replica.container).toBeDefined();
    expect(web.dataNetwork).toBeDefined();
  });

  it('passes image overrides to every component', () => {
    const { tf: t } = webStack({
      images: { haproxy: 'mirror/haproxy:3.0', nginx: 'mirror/nginx:1.27', database: 'mirror/mariadb:11.8', monitoring: { prometheus: 'mirror/prometheus:2.53' } },
      database: { engine: 'mariadb' },
    });
    expect(resources(t, 'docker_image').map((i) => i.name).sort()).toEqual([
      'mirror/haproxy:3.0', // the load balancer
      'mirror/haproxy:3.0', // the database router
      'mirror/mariadb:11.8',
      'mirror/nginx:1.27',
      'mirror/prometheus:2.53',
      'nginx/nginx-prometheus-exporter:1.4.1',
      'prom/alertmanager:v0.28.1',
      'prom/blackbox-exporter:v0.26.0',
      'prom/mysqld-exporter:v0.17.2',
      'prom/node-exporter:v1.9.0',
      'registry.example.com/shop:1.4.2',
      expect.stringMatching(/^test-db-backup:[0-9a-f]{12}$/), // built from mirror/mariadb:11.8
      expect.stringMatching(/^test-db-failover:[0-9a-f]{12}$/), // built from mirror/mariadb:11.8
      expect.stringMatching(/^test-static:[0-9a-f]{12}$/),
    ]);
    const imageOf = (name: string) => t.resource.docker_image[/^\$\{docker_image\.([^.]+)\.image_id\}$/.exec(byName(t, 'docker_container', name).image)![1]].name;
    expect(['test-lb', 'test-db-router', 'test-db-primary'].map(imageOf)).toEqual(['mirror/haproxy:3.0', 'mirror/haproxy:3.0', 'mirror/mariadb:11.8']);
  });

  // Only whole path components: a checkout at /w must not turn "$ROUTES/wanted" into "$ROUTES<repo>anted".
  const repoPath = new RegExp(`${REPO.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}(?=[/"]|$)`, 'g');

  it('renders the reviewed files: one snapshot file per uploaded file, so a change reads as a diff of that file', async () => {
    const files = containers.flatMap((c) => (c.upload ?? []).filter((u: any) => typeof u.content === 'string').map((u: any) => [`${baseName(c.name)}${u.file}`, u.content as string] as const));
    expect(files.length).toBeGreaterThan(20);
    for (const [path, content] of files) await expect(content.replace(repoPath, '<repo>')).toMatchFileSnapshot(`__snapshots__/files/${path}`);
  });

  it('has the reviewed containers: image, user, capabilities, memory, restart, networks, mounts, ports, healthcheck', () => {
    const summary = containers
      .map((c) => ({
        name: baseName(c.name),
        image: c.image,
        user: c.user,
        entrypoint: c.entrypoint,
        add: c.capabilities?.add ?? [],
        drop: c.capabilities?.drop,
        securityOpts: c.security_opts,
        memory: [c.memory, c.memory_swap],
        restart: c.restart,
        networks: (c.networks_advanced ?? []).map((n: any) => `${n.name} ${(n.aliases ?? []).map(baseName).join(',')}`),
        mounts: (c.mounts ?? []).map((m: any) => `${m.type} ${m.source} -> ${m.target}${m.read_only ? ' (ro)' : ''}`),
        ports: c.ports,
        healthcheck: c.healthcheck?.test,
        labels: (c.labels ?? []).map((l: any) => l.label),
        files: (c.upload ?? []).map((u: any) => `${u.file}${u.permissions ? ` ${u.permissions}` : ''}`),
      }))
      .sort((a, b) => a.name.localeCompare(b.name));
    expect(JSON.parse(JSON.stringify(summary).replace(repoPath, '<repo>'))).toMatchSnapshot();
  });

  it('has the reviewed resources, by type and name', () => {
    const names = Object.fromEntries(Object.entries<Record<string, any>>(tf.resource).map(([type, rs]) => [type, Object.values(rs).map((r) => baseName(String(r.name ?? '(unnamed)'))).sort()]));
    expect(names).toMatchSnapshot();
  });
});

function netName(tf: any, ref: string): string {
  const id = /^\$\{docker_network\.([^.]+)\.name\}$/.exec(ref)![1];
  return tf.resource.docker_network[id].name;
}

function logicalSuffix(tf: any, name: string): string {
  const id = Object.entries(tf.resource.docker_network).find(([, n]: any) => n.name === name)![0];
  return id.split('_').pop()!;
}
