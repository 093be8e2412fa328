import { Testing, TerraformStack } from 'cdktf';
import { describe, expect, it } from 'vitest';
import { DistributedWebStack, LoadBalancer, Monitoring, MySqlPrimaryReplica, ValidationError } from '../src';
import { DB_PATHS } from '../src/database/render/mysql';
import { baseName, byName, passwordLiterals, resources, synthStack, testNetwork, uploaded } from './helpers';

function webStack(props: Partial<ConstructorParameters<typeof DistributedWebStack>[2]> = {}) {
  let web!: DistributedWebStack;
  const out = synthStack((stack) => {
    web = new DistributedWebStack(stack, 'web', { codebase: { image: 'registry.example.com/shop:1.4.2' }, ...props });
  });
  return { ...out, web };
}

const MONITORING = [
  'test-alertmanager',
  'test-blackbox',
  'test-db-primary-exporter',
  'test-db-replica-exporter',
  'test-node-exporter',
  'test-prometheus',
  'test-server-1-nginx-exporter',
  'test-server-2-nginx-exporter',
];

describe('Monitoring in DistributedWebStack', () => {
  const { tf, json } = webStack({ monitoring: { receivers: [{ webhook: { url: 'http://hooks.internal:8080/alerts' } }] } });
  const containers = resources(tf, 'docker_container');
  const mgmtRef = (c: any) => c.networks_advanced.find((n: any) => n.aliases?.includes(`${c.name}-mgmt`));

  it('runs Prometheus, Alertmanager and an exporter per component, publishing nothing', () => {
    const names = containers.map((c) => baseName(c.name)).filter((n) => !/-(lb|nginx|app|db-primary|db-replica|db-router|db-failover|db-backup)$/.test(n));
    expect(names.sort()).toEqual(MONITORING);
    for (const name of MONITORING) {
      const c = byName(tf, 'docker_container', name);
      expect(c.ports, name).toBeUndefined();
      expect(c.capabilities).toEqual({ drop: ['ALL'] });
      // Listens only on its management alias, which only the mgmt network resolves.
      expect(mgmtRef(c), name).toBeDefined();
      expect(c.entrypoint.find((a: string) => a.startsWith('--web.listen-address='))).toMatch(new RegExp(`^--web\\.listen-address=${name}-mgmt:\\d+$`));
    }
  });

  it('scrapes every component and sends alerts to Alertmanager', () => {
    const cfg = uploaded(byName(tf, 'docker_container', 'test-prometheus'), '/etc/dws/prometheus.yml');
    for (const target of [
      'test-lb-mgmt:8404',
      'test-server-1-nginx-exporter-mgmt:9113',
      'test-server-2-nginx-exporter-mgmt:9113',
      'test-db-primary-exporter-mgmt:9104',
      'test-db-replica-exporter-mgmt:9104',
      'test-node-exporter-mgmt:9100',
      'test-alertmanager-mgmt:9093',
      'test-db-router-mgmt:8405',
      'https://test-lb:443/',
    ]) {
      expect(cfg, target).toContain(target);
    }
    expect(uploaded(byName(tf, 'docker_container', 'test-alertmanager'), '/etc/dws/alertmanager.yml')).toContain('http://hooks.internal:8080/alerts');
  });

  it('gives each mysqld_exporter its own account, limited to that container, by file', () => {
    const entrypoint = uploaded(byName(tf, 'docker_container', 'test-db-primary'), DB_PATHS.entrypoint);
    expect(entrypoint).toContain("CREATE USER IF NOT EXISTS 'exporter'@'test-db-primary-exporter.%' IDENTIFIED BY '$${EXPORTER_PASSWORD}' WITH MAX_USER_CONNECTIONS 3;");
    expect(entrypoint).toContain("GRANT PROCESS, REPLICATION CLIENT, SELECT ON *.* TO 'exporter'@'test-db-replica-exporter.%';");
    const cnf = uploaded(byName(tf, 'docker_container', 'test-db-replica-exporter'), '/etc/dws/exporter.cnf');
    expect(cnf).toMatch(/^\[client\]\nuser=exporter\npassword=\$\{random_password\.[^}]+\.result\}\n$/);
    expect(passwordLiterals(json)).toEqual([]);
  });

  it('uses the MariaDB privileges and metric names on MariaDB', () => {
    const { tf: m } = webStack({ database: { engine: 'mariadb' } });
    expect(uploaded(byName(m, 'docker_container', 'test-db-primary'), DB_PATHS.entrypoint)).toContain('GRANT PROCESS, BINLOG MONITOR, SLAVE MONITOR, SELECT ON *.*');
    const rules = uploaded(byName(m, 'docker_container', 'test-prometheus'), '/etc/dws/rules.yml');
    expect(rules).toContain('mysql_slave_status_slave_io_running');
    expect(rules).not.toContain('mysql_slave_status_replica_io_running');
    expect(uploaded(byName(tf, 'docker_container', 'test-prometheus'), '/etc/dws/rules.yml')).toContain('mysql_slave_status_replica_io_running');
  });

  it('serves each Nginx status page on the mgmt network only', () => {
    const nginx = byName(tf, 'docker_container', 'test-server-1-nginx');
    // The exporter's alias, and one of this container's generation only, which the page binds
    // (while a replacement starts, the first alias also names the old container).
    expect(nginx.networks_advanced.map((n: any) => n.aliases)).toEqual([['test-server-1-nginx'], ['test-server-1-nginx-mgmt', `${nginx.name}-mgmt`]]);
    expect(uploaded(nginx, '/etc/dws/nginx.conf')).toContain(`listen ${nginx.name}-mgmt:8081;`);
  });

  it('rotates every container\'s logs by default, and takes one log driver for all', () => {
    for (const c of containers) expect([c.name, c.log_driver, c.log_opts]).toEqual([c.name, 'json-file', { 'max-size': '10m', 'max-file': '3' }]);
    const { tf: s } = webStack({ logging: { driver: 'syslog', options: { 'syslog-address': 'udp://10.0.0.5:514' } } });
    for (const c of resources(s, 'docker_container')) expect([c.log_driver, c.log_opts]).toEqual(['syslog', { 'syslog-address': 'udp://10.0.0.5:514' }]);
  });

  it('runs Grafana on request, provisioned with the datasource and the shipped dashboards', () => {
    expect(containers.map((c) => c.name)).not.toContain('test-grafana');
    const { tf: g, json: gj } = webStack({ monitoring: { grafana: true } });
    const grafana = byName(g, 'docker_container', 'test-grafana');
    expect(grafana.ports).toBeUndefined();
    expect(grafana.env).toContain('GF_SECURITY_ADMIN_PASSWORD__FILE=/etc/dws/secrets/grafana-admin-password');
    expect(uploaded(grafana, '/etc/dws/secrets/grafana-admin-password')).toMatch(/^\$\{random_password\.[^}]+\.result\}$/);
    expect(uploaded(grafana, '/etc/grafana/provisioning/datasources/dws.yaml')).toContain('http://test-prometheus-mgmt:9090');
    for (const f of ['haproxy', 'nginx', 'mysql', 'host']) expect(JSON.parse(uploaded(grafana, `/etc/dws/grafana/dashboards/${f}.json`)).uid).toBe(`dws-${f}`);
    expect(passwordLiterals(gj)).toEqual([]);
  });

  it('can be turned off', () => {
    const { tf: off } = webStack({ monitoring: false });
    expect(resources(off, 'docker_container').map((c) => baseName(c.name)).sort()).toEqual([
      'test-db-backup',
      'test-db-failover',
      'test-db-primary',
      'test-db-replica',
      'test-db-router',
      'test-lb',
      'test-server-1-app',
      'test-server-1-nginx',
      'test-server-2-app',
      'test-server-2-nginx',
    ]);
    expect(uploaded(byName(off, 'docker_container', 'test-server-1-nginx'), '/etc/dws/nginx.conf')).not.toContain('stub_status');
  });
});

describe('the database router on the management network', () => {
  const { tf } = webStack();
  const router = byName(tf, 'docker_container', 'test-db-router');
  const cfg = uploaded(router, '/etc/dws/db-router.cfg');

  it('serves metrics only on its mgmt alias, and the endpoints only on its data alias', () => {
    const aliases = router.networks_advanced.map((n: any) => n.aliases);
    expect(aliases).toEqual([['test-db-router', 'test-db-router-data'], ['test-db-router-mgmt']]);
    expect(cfg.match(/^ {2}bind .*$/gm)).toEqual(['  bind test-db-router-data:3306', '  bind test-db-router-data:3307', '  bind test-db-router-mgmt:8405']);
    // Its healthcheck connects where the writer port listens.
    expect(router.healthcheck.test.join(' ')).toContain('/dev/tcp/test-db-router-data/3306');
  });

  it('alerts on the node the writer prop names', () => {
    const rules = (t: any) => uploaded(byName(t, 'docker_container', 'test-prometheus'), '/etc/dws/rules.yml');
    expect(rules(tf)).toContain('server="test-db-primary",state="UP"');
    expect(rules(webStack({ database: { writer: 'replica' } }).tf)).toContain('server="test-db-replica",state="UP"');
  });

  it('without monitoring, stays off the mgmt network and listens on every address of its own', () => {
    const off = byName(webStack({ monitoring: false }).tf, 'docker_container', 'test-db-router');
    expect(off.networks_advanced.map((n: any) => n.aliases)).toEqual([['test-db-router']]);
    expect(uploaded(off, '/etc/dws/db-router.cfg').match(/^ {2}bind .*$/gm)).toEqual(['  bind :3306', '  bind :3307']);
  });
});

describe('Monitoring validation', () => {
  it('refuses a database without a management network, naming the field', () => {
    expect(() =>
      synthStack((stack) => {
        const db = new MySqlPrimaryReplica(stack, 'db', { network: testNetwork(stack) });
        new Monitoring(stack, 'mon', { managementNetwork: testNetwork(stack, 'mgmt', true), database: db });
      }),
    ).toThrow(new ValidationError('test/mon', 'database', 'must have a managementNetwork (its router serves its metrics only there)'));
  });

  it('refuses a load balancer without a management network, naming the field', () => {
    expect(() =>
      synthStack((stack) => {
        const mgmt = testNetwork(stack, 'mgmt', true);
        const lb = new LoadBalancer(stack, 'lb', { networks: [testNetwork(stack)] });
        lb.addServer({ name: 'a', host: 'a', port: 80 });
        new Monitoring(stack, 'mon', { managementNetwork: mgmt, loadBalancer: lb, probeNetwork: mgmt });
      }),
    ).toThrow(new ValidationError('test/mon', 'loadBalancer', 'must have a managementNetwork (its statistics listen only there)'));
  });

  it('refuses a malformed receiver, naming it', () => {
    expect(() =>
      synthStack((stack) => {
        new Monitoring(stack, 'mon', { managementNetwork: testNetwork(stack, 'mgmt', true), receivers: [{ webhook: { url: 'not a url' } }] });
      }),
    ).toThrow(/test\/mon: receivers\.0/);
  });

  it.each(['javascript:alert(1)', 'file:///etc/passwd', 'ftp://hooks.internal/x'])('refuses a webhook that is not http(s), which would stop Alertmanager from starting: %s', (url) => {
    const stack = new TerraformStack(Testing.app(), 'test');
    expect(() => new Monitoring(stack, 'mon', { managementNetwork: testNetwork(stack, 'mgmt', true), receivers: [{ webhook: { url: 'http://ok.internal/' } }, { webhook: { url } }] })).toThrow(
      new ValidationError('test/mon', 'receivers.1.webhook.url', `must be an http:// or https:// URL: Alertmanager refuses any other scheme and would not start (got ${JSON.stringify(url)})`),
    );
    expect(stack.node.tryFindChild('mon')).toBeUndefined();
  });
});
