import { describe, expect, it } from 'vitest';
import { MySqlPrimaryReplica, ValidationError } from '../src';
import { DB_PATHS } from '../src/database/render/mysql';
import { DB_ROUTER_PATHS, FAILOVER_PATHS, ROUTE_DIR, renderRouteCheck } from '../src/database/render/db-failover';
import { DB_TLS_FILES } from '../src/database/render/mysql';
import { byName, resources, synthStack, testNetwork, uploaded } from './helpers';

describe('MySqlPrimaryReplica', () => {
  it('runs a primary and a replica on the given network, each with its own named data volume', () => {
    const { tf } = synthStack((stack) => {
      new MySqlPrimaryReplica(stack, 'db', { network: testNetwork(stack, 'data', true) });
    });
    for (const role of ['primary', 'replica']) {
      const c = byName(tf, 'docker_container', `test-db-${role}`);
      expect(c.networks_advanced).toEqual([{ name: '${docker_network.data.name}', aliases: [`test-db-${role}`] }]);
      expect(c.ports).toBeUndefined();
      expect(c.mounts).toEqual([{ type: 'volume', source: expect.stringMatching(/^\$\{docker_volume\./), target: '/var/lib/mysql' }]);
      expect(c.entrypoint).toEqual([DB_PATHS.entrypoint]);
      expect(c.wait).toBe(true);
      // A vanished peer's name must fail fast in DNS (see the router and agent tests).
      expect(c.dns_opts).toEqual(['timeout:1', 'attempts:1']);
    }
    expect(resources(tf, 'docker_volume').map((v) => v.name).sort()).toEqual(['test-db-primary-data', 'test-db-replica-data', 'test-db-routes']);
    expect(resources(tf, 'docker_image').map((i) => i.name).sort()).toEqual(['haproxy:3.0', 'mysql:8.4', expect.stringMatching(/^test-db-failover:[0-9a-f]{12}$/)]);
  });

  it('gives deterministic server ids and starts both nodes read-only (super_read_only on MySQL): the agent opens the writer', () => {
    const { tf } = synthStack((stack) => {
      new MySqlPrimaryReplica(stack, 'db', { network: testNetwork(stack), serverIdBase: 10 });
    });
    const primaryCnf = uploaded(byName(tf, 'docker_container', 'test-db-primary'), DB_PATHS.config);
    const replicaCnf = uploaded(byName(tf, 'docker_container', 'test-db-replica'), DB_PATHS.config);
    expect(primaryCnf).toContain('server_id = 10\n');
    expect(replicaCnf).toContain('server_id = 11\n');
    for (const cnf of [primaryCnf, replicaCnf]) {
      expect(cnf).toContain('\nread_only = ON\nsuper_read_only = ON\n');
      // Either node may become a replica; nothing writes by itself (the agent writes the heartbeat).
      expect(cnf).toContain('relay_log = relay-bin\nrelay_log_recovery = ON\n');
      expect(cnf).toContain('event_scheduler = OFF\n');
      expect(cnf).toContain('gtid_mode = ON\n');
      expect(cnf).toContain('sync_binlog = 1\n');
      expect(cnf).toContain('innodb_flush_log_at_trx_commit = 1\n');
    }
  });

  it('sets up replication on first start: CHANGE REPLICATION SOURCE on MySQL', () => {
    const { tf } = synthStack((stack) => {
      new MySqlPrimaryReplica(stack, 'db', { network: testNetwork(stack) });
    });
    const replica = uploaded(byName(tf, 'docker_container', 'test-db-replica'), DB_PATHS.entrypoint);
    expect(replica).toContain("CHANGE REPLICATION SOURCE TO SOURCE_HOST='test-db-primary', SOURCE_PORT=3306, SOURCE_USER='repl'");
    expect(replica).toContain('SOURCE_AUTO_POSITION=1');
    const primary = uploaded(byName(tf, 'docker_container', 'test-db-primary'), DB_PATHS.entrypoint);
    // Either node may replicate from the other; the app comes only through the router.
    expect(primary.match(/CREATE USER IF NOT EXISTS '\w+'@'[^']*'/g)).toEqual([
      "CREATE USER IF NOT EXISTS 'app'@'test-db-router.%'",
      "CREATE USER IF NOT EXISTS 'repl'@'test-db-primary.%'",
      "CREATE USER IF NOT EXISTS 'repl'@'test-db-replica.%'",
      "CREATE USER IF NOT EXISTS 'dws_failover'@'test-db-failover.%'",
    ]);
    expect(primary).toContain("GRANT REPLICATION SLAVE ON *.* TO 'repl'@'test-db-primary.%';");
    expect(primary).toContain("GRANT REPLICATION SLAVE ON *.* TO 'repl'@'test-db-replica.%';");
    expect(primary).toContain("CREATE USER IF NOT EXISTS 'dws_failover'@'test-db-failover.%' IDENTIFIED BY '$${FAILOVER_PASSWORD}' WITH MAX_USER_CONNECTIONS 10;");
    expect(primary).toContain("GRANT ALL PRIVILEGES ON *.* TO 'dws_failover'@'test-db-failover.%';");
    expect(primary).toContain('FAILOVER_PASSWORD=$(secret failover-password)');
    // The heartbeat is written by the agent, not by an event.
    expect(primary).toContain('CREATE TABLE IF NOT EXISTS dws.heartbeat');
    expect(primary).not.toContain('CREATE EVENT');
  });

  it('uses MariaDB syntax and settings when engine is mariadb', () => {
    const { tf } = synthStack((stack) => {
      new MySqlPrimaryReplica(stack, 'db', { network: testNetwork(stack), engine: 'mariadb' });
    });
    expect(resources(tf, 'docker_image').map((i) => i.name).sort()).toEqual(['haproxy:3.0', 'mariadb:11.4', expect.stringMatching(/^test-db-failover:[0-9a-f]{12}$/)]);
    const replica = byName(tf, 'docker_container', 'test-db-replica');
    expect(uploaded(replica, DB_PATHS.entrypoint)).toContain('MASTER_USE_GTID=slave_pos');
    for (const role of ['primary', 'replica']) {
      const cnf = uploaded(byName(tf, 'docker_container', `test-db-${role}`), DB_PATHS.config);
      expect(cnf).toContain('\nread_only = ON\n');
      expect(cnf).not.toContain('super_read_only');
      expect(cnf).toContain('gtid_strict_mode = ON\n');
      expect(cnf).toContain('binlog_format = ROW\n');
      expect(cnf).toContain('relay_log = relay-bin\nrelay_log_recovery = ON\n');
      expect(cnf).toContain('event_scheduler = OFF\n');
    }
    expect(replica.healthcheck.test[1]).toBe('mariadb-admin');
  });

  it('generates every password with random_password and passes them as files, never literals', () => {
    const { tf } = synthStack((stack) => {
      new MySqlPrimaryReplica(stack, 'db', { network: testNetwork(stack) });
    });
    const pws = resources(tf, 'random_password');
    expect(pws).toHaveLength(4); // root, replication, app, failover
    for (const pw of pws) expect(pw).toMatchObject({ length: 32, special: false });
    const primary = byName(tf, 'docker_container', 'test-db-primary');
    const secrets = primary.upload.filter((u: any) => u.file.startsWith(DB_PATHS.secrets));
    expect(secrets.map((u: any) => u.file).sort()).toEqual([
      '/etc/dws/secrets/app-password',
      '/etc/dws/secrets/failover-password',
      '/etc/dws/secrets/replication-password',
      '/etc/dws/secrets/root-password',
    ]);
    for (const s of secrets) {
      expect(s.content).toMatch(/^\$\{random_password\.[A-Za-z0-9_]+\.result\}$/);
      expect(s.permissions).toBe('0600');
    }
    const replica = byName(tf, 'docker_container', 'test-db-replica');
    // Only the primary creates accounts (the replica replays them).
    expect(replica.upload.map((u: any) => u.file).filter((f: string) => f.startsWith(DB_PATHS.secrets)).sort()).toEqual(['/etc/dws/secrets/replication-password', '/etc/dws/secrets/root-password']);
    expect(replica.depends_on).toEqual([expect.stringMatching(/^docker_container\.db_Primary_[0-9A-F]+$/)]);
  });

  it('passes extra settings through to both servers', () => {
    const { tf } = synthStack((stack) => {
      new MySqlPrimaryReplica(stack, 'db', { network: testNetwork(stack), settings: { innodb_buffer_pool_size: '256M', skip_log_error: false } });
    });
    const cnf = uploaded(byName(tf, 'docker_container', 'test-db-replica'), DB_PATHS.config);
    expect(cnf).toMatch(/innodb_buffer_pool_size = 256M\nskip_log_error = OFF\n$/);
  });

  describe('semi-synchronous replication', () => {
    const cnfs = (props: Partial<ConstructorParameters<typeof MySqlPrimaryReplica>[2]> = {}) => {
      const { tf } = synthStack((stack) => {
        new MySqlPrimaryReplica(stack, 'db', { network: testNetwork(stack), ...props });
      });
      return { primary: uploaded(byName(tf, 'docker_container', 'test-db-primary'), DB_PATHS.config), replica: uploaded(byName(tf, 'docker_container', 'test-db-replica'), DB_PATHS.config) };
    };
    const lines = (cnf: string) => cnf.split('\n').filter((l) => /semi|plugin_load/.test(l));

    it('is on by default on MySQL: both plugins on both nodes, source enabled on the primary, replica on the replica, AFTER_SYNC, 10 s', () => {
      const { primary, replica } = cnfs();
      const both = [
        'plugin_load_add = semisync_source.so',
        'plugin_load_add = semisync_replica.so',
      ];
      const shared = [
        'loose-rpl_semi_sync_source_timeout = 10000',
        'loose-rpl_semi_sync_source_wait_point = AFTER_SYNC',
        'loose-rpl_semi_sync_source_wait_for_replica_count = 1',
        // With no replica connected (just after a failover) the first commit does not wait out the timeout.
        'loose-rpl_semi_sync_source_wait_no_replica = OFF',
      ];
      expect(lines(primary)).toEqual([...both, 'loose-rpl_semi_sync_source_enabled = ON', ...shared, 'loose-rpl_semi_sync_replica_enabled = OFF']);
      expect(lines(replica)).toEqual([...both, 'loose-rpl_semi_sync_source_enabled = OFF', ...shared, 'loose-rpl_semi_sync_replica_enabled = ON']);
    });

    it('uses the built-in MariaDB variables, with the wait point set to AFTER_SYNC (its default is AFTER_COMMIT)', () => {
      // A timeout this short leaves no room for automatic failover (see the failover tests).
      const { primary, replica } = cnfs({ engine: 'mariadb', semiSync: { timeoutMs: 2500 }, failover: { automatic: false } });
      const shared = ['rpl_semi_sync_master_timeout = 2500', 'rpl_semi_sync_master_wait_point = AFTER_SYNC', 'rpl_semi_sync_master_wait_no_slave = OFF'];
      expect(lines(primary)).toEqual(['rpl_semi_sync_master_enabled = ON', ...shared, 'rpl_semi_sync_slave_enabled = OFF']);
      expect(lines(replica)).toEqual(['rpl_semi_sync_master_enabled = OFF', ...shared, 'rpl_semi_sync_slave_enabled = ON']);
    });

    it('takes the timeout from semiSync.timeoutMs, and defaults it when the object is empty', () => {
      expect(cnfs({ semiSync: { timeoutMs: 500 }, failover: { automatic: false } }).primary).toContain('loose-rpl_semi_sync_source_timeout = 500\n');
      expect(cnfs({ semiSync: { timeoutMs: 8000 } }).primary).toContain('loose-rpl_semi_sync_source_timeout = 8000\n');
      expect(cnfs({ semiSync: {} }).primary).toContain('loose-rpl_semi_sync_source_timeout = 10000\n');
    });

    it.each(['mysql', 'mariadb'] as const)('semiSync: false renders no semi-sync settings (%s)', (engine) => {
      const { primary, replica } = cnfs({ engine, semiSync: false });
      expect(lines(primary)).toEqual([]);
      expect(lines(replica)).toEqual([]);
    });

    it('bootstraps without waiting for a replica that is not there yet', () => {
      const { tf } = synthStack((stack) => {
        new MySqlPrimaryReplica(stack, 'db', { network: testNetwork(stack) });
      });
      expect(uploaded(byName(tf, 'docker_container', 'test-db-primary'), DB_PATHS.entrypoint)).toMatch(/--skip-networking .*--loose-rpl-semi-sync-source-enabled=OFF &/);
    });

    it.each([
      [{ timeoutMs: 0 }, 'semiSync.timeoutMs must be a whole number of milliseconds between 100 and 86400000 (got 0)'],
      [{ timeoutMs: 86_400_001 }, 'semiSync.timeoutMs must be a whole number of milliseconds between 100 and 86400000 (got 86400001)'],
      [{ timeoutMs: 1.5e3 + 0.5 }, 'semiSync.timeoutMs must be a whole number of milliseconds between 100 and 86400000 (got 1500.5)'],
      [{ timeoutMs: '10s' }, 'semiSync.timeoutMs must be a whole number of milliseconds between 100 and 86400000 (got "10s")'],
      [true, 'semiSync must be false or { timeoutMs: number } (got true)'],
      [{ timeout: 10 }, 'semiSync.timeout is not a known property (check the spelling)'],
    ])('rejects semiSync %j with a clear message', (semiSync, message) => {
      expect(() =>
        synthStack((stack) => {
          new MySqlPrimaryReplica(stack, 'db', { network: testNetwork(stack), semiSync: semiSync as any });
        }),
      ).toThrow(new ValidationError('test/db', message.split(' ')[0], message.slice(message.indexOf(' ') + 1)));
    });
  });

  describe('tls', () => {
    const synth = (props: Partial<ConstructorParameters<typeof MySqlPrimaryReplica>[2]> = {}) => {
      let db!: MySqlPrimaryReplica;
      const { tf, json } = synthStack((stack) => {
        db = new MySqlPrimaryReplica(stack, 'db', { network: testNetwork(stack), ...props });
        db.allowExporter('test-db-primary-exporter');
      });
      const files = (role: string) => {
        const c = byName(tf, 'docker_container', `test-db-${role}`);
        return { c, cnf: uploaded(c, DB_PATHS.config), entrypoint: uploaded(c, DB_PATHS.entrypoint) };
      };
      return { tf, json, db, primary: files('primary'), replica: files('replica') };
    };

    it('is off by default: no certificates, no TLS settings, no REQUIRE SSL, plain replication', () => {
      const { tf, db, primary, replica } = synth();
      expect(tf.resource.tls_private_key).toBeUndefined();
      expect(tf.provider?.tls).toBeUndefined();
      expect(db.caCertificatePem).toBeUndefined();
      for (const s of [primary, replica]) {
        expect(s.cnf).not.toMatch(/ssl|secure_transport/);
        expect(s.entrypoint).not.toMatch(/REQUIRE SSL|SOURCE_SSL|\/etc\/dws\/tls/);
        expect(s.c.upload.map((u: any) => u.file)).not.toContain(DB_TLS_FILES.key);
        expect(s.c.healthcheck.test).not.toContain('--ssl-mode=DISABLED');
      }
    });

    it('makes a private CA and a certificate per server for its Docker DNS name', () => {
      const { tf, db } = synth({ tls: true });
      expect(tf.provider?.tls).toBeDefined();
      expect(db.caCertificatePem).toBeDefined();
      const caPem = expect.stringMatching(/^\$\{tls_self_signed_cert\.db_TlsCa_[0-9A-F]+\.cert_pem\}$/);
      const keys = resources(tf, 'tls_private_key');
      expect(keys).toHaveLength(3);
      for (const k of keys) expect(k).toMatchObject({ algorithm: 'ECDSA', ecdsa_curve: 'P256' });
      const [ca] = resources(tf, 'tls_self_signed_cert');
      expect(ca).toMatchObject({ is_ca_certificate: true, allowed_uses: expect.arrayContaining(['cert_signing']), subject: [{ common_name: 'test database CA' }] });
      // Clients reach either node through the router: each certificate names it too.
      expect(resources(tf, 'tls_cert_request').map((r) => r.dns_names).sort()).toEqual([
        ['test-db-primary', 'test-db-router'],
        ['test-db-replica', 'test-db-router'],
      ]);
      const certs = resources(tf, 'tls_locally_signed_cert');
      expect(certs).toHaveLength(2);
      for (const c of certs) {
        expect(c).toMatchObject({ validity_period_hours: 365 * 24, allowed_uses: expect.arrayContaining(['server_auth']) });
        expect(c.ca_cert_pem).toEqual(caPem);
      }
    });

    it('uploads the CA, the server certificate and the key (root-only, handed to mysql by the entrypoint)', () => {
      const { primary, replica } = synth({ tls: true });
      for (const [role, s] of [['Primary', primary], ['Replica', replica]] as const) {
        const up = (file: string) => s.c.upload.find((u: any) => u.file === file);
        expect(up(DB_TLS_FILES.ca)).toMatchObject({ content: expect.stringMatching(/^\$\{tls_self_signed_cert\.db_TlsCa_[0-9A-F]+\.cert_pem\}$/), permissions: '0444' });
        expect(up(DB_TLS_FILES.cert)).toMatchObject({ content: expect.stringMatching(new RegExp(`^\\$\\{tls_locally_signed_cert\\.db_${role}TlsCertificate_[0-9A-F]+\\.cert_pem\\}$`)), permissions: '0444' });
        expect(up(DB_TLS_FILES.key)).toMatchObject({ content: expect.stringMatching(new RegExp(`^\\$\\{tls_private_key\\.db_${role}TlsKey_[0-9A-F]+\\.private_key_pem\\}$`)), permissions: '0600' });
        expect(s.entrypoint).toContain(`chown mysql:mysql ${DB_TLS_FILES.key}\nchmod 0600 ${DB_TLS_FILES.key}\n`);
      }
    });

    it.each(['mysql', 'mariadb'] as const)('requires TLS of every TCP client and of the accounts (%s)', (engine) => {
      const { primary, replica } = synth({ tls: true, engine });
      for (const s of [primary, replica]) {
        expect(s.cnf).toContain(
          `ssl_ca = ${DB_TLS_FILES.ca}\nssl_cert = ${DB_TLS_FILES.cert}\nssl_key = ${DB_TLS_FILES.key}\nrequire_secure_transport = ON\n`,
        );
        // The healthcheck's anonymous ping goes without TLS: the refusal still proves the server answers.
        expect(s.c.healthcheck.test).toContain(engine === 'mysql' ? '--ssl-mode=DISABLED' : '--skip-ssl');
      }
      expect(primary.entrypoint).toContain("CREATE USER IF NOT EXISTS 'app'@'test-db-router.%' IDENTIFIED BY '$${APP_PASSWORD}' REQUIRE SSL;");
      for (const node of ['primary', 'replica']) {
        expect(primary.entrypoint).toContain(`CREATE USER IF NOT EXISTS 'repl'@'test-db-${node}.%' IDENTIFIED BY '$\${REPLICATION_PASSWORD}' REQUIRE SSL;`);
      }
      expect(primary.entrypoint).toContain("IDENTIFIED BY '$${EXPORTER_PASSWORD}' REQUIRE SSL WITH MAX_USER_CONNECTIONS 3;");
      expect(primary.entrypoint).toContain("CREATE USER IF NOT EXISTS 'dws_failover'@'test-db-failover.%' IDENTIFIED BY '$${FAILOVER_PASSWORD}' REQUIRE SSL WITH MAX_USER_CONNECTIONS 10;");
      expect(primary.entrypoint.match(/CREATE USER [^;]*;/g)!.filter((u) => !u.includes('REQUIRE SSL'))).toEqual([]);
    });

    it('makes the replica verify the primary: SOURCE_SSL on MySQL, MASTER_SSL on MariaDB', () => {
      expect(synth({ tls: true }).replica.entrypoint).toContain(
        `SOURCE_RETRY_COUNT=86400, SOURCE_HEARTBEAT_PERIOD=1, SOURCE_SSL=1, SOURCE_SSL_CA='${DB_TLS_FILES.ca}', SOURCE_SSL_VERIFY_SERVER_CERT=1;`,
      );
      expect(synth({ tls: true, engine: 'mariadb' }).replica.entrypoint).toContain(
        `MASTER_CONNECT_RETRY=2, MASTER_HEARTBEAT_PERIOD=1, MASTER_SSL=1, MASTER_SSL_CA='${DB_TLS_FILES.ca}', MASTER_SSL_VERIFY_SERVER_CERT=1;`,
      );
    });

    it('rejects a tls value that is not a boolean', () => {
      expect(() =>
        synthStack((stack) => {
          new MySqlPrimaryReplica(stack, 'db', { network: testNetwork(stack), tls: 'yes' as any });
        }),
      ).toThrow(new ValidationError('test/db', 'tls', 'must be true or false (got "yes")'));
    });
  });

  describe('router and failover agent', () => {
    const synth = (props: Partial<ConstructorParameters<typeof MySqlPrimaryReplica>[2]> = {}) => {
      let db!: MySqlPrimaryReplica;
      const { tf } = synthStack((stack) => {
        db = new MySqlPrimaryReplica(stack, 'db', { network: testNetwork(stack, 'data', true), ...props });
      });
      return { tf, db, router: byName(tf, 'docker_container', 'test-db-router'), agent: byName(tf, 'docker_container', 'test-db-failover') };
    };
    /** The docker_image a container's `image` refers to. */
    const imageOf = (tf: any, c: any) => tf.resource.docker_image[/^\$\{docker_image\.([^.]+)\.image_id\}$/.exec(c.image)![1]].name;
    const routesVolume = expect.stringMatching(/^\$\{docker_volume\.db_Routes_[0-9A-F]+\.name\}$/);
    const secretRef = (id: string) => expect.stringMatching(new RegExp(`^\\$\\{random_password\\.db_${id}_[0-9A-F]+\\.result\\}$`));
    const agentConfig = (props: Partial<ConstructorParameters<typeof MySqlPrimaryReplica>[2]> = {}) => JSON.parse(uploaded(synth(props).agent, FAILOVER_PATHS.config));

    it('points the app at the router: writes on the port, reads on the next one', () => {
      const { db, router, tf } = synth({ port: 3310 });
      expect([db.writerHost, db.readerHost, db.port, db.readerPort]).toEqual(['test-db-router', 'test-db-router', 3310, 3311]);
      expect(resources(tf, 'docker_volume').find((v) => v.name === 'test-db-routes')).toBeDefined();
      const cfg = uploaded(router, DB_ROUTER_PATHS.config);
      expect(cfg).toContain('frontend writer\n  bind :3310\n  default_backend writer\n');
      expect(cfg).toContain('frontend reader\n  bind :3311\n  default_backend reader\n');
      // Both nodes in both backends, on the nodes' port, re-resolved through Docker's DNS.
      expect(cfg.match(/^ {2}server .*$/gm)).toEqual([
        '  server test-db-primary test-db-primary:3310',
        '  server test-db-replica test-db-replica:3310',
        '  server test-db-primary test-db-primary:3310',
        '  server test-db-replica test-db-replica:3310',
      ]);
      expect(cfg).toContain('  nameserver docker 127.0.0.11:53\n');
    });

    it('runs the router (HAProxy) on the data network only, reading the route files from a read-only mount', () => {
      const { tf, router } = synth();
      expect(router.name).toBe('test-db-router');
      expect(imageOf(tf, router)).toBe('haproxy:3.0');
      const mirrored = synth({ routerImage: 'mirror/haproxy:3.2' });
      expect(imageOf(mirrored.tf, mirrored.router)).toBe('mirror/haproxy:3.2');
      expect(router.entrypoint).toEqual(['haproxy', '-W', '-db', '-f', DB_ROUTER_PATHS.config]);
      expect(router.networks_advanced).toEqual([{ name: '${docker_network.data.name}', aliases: ['test-db-router'] }]);
      expect(router.ports).toBeUndefined();
      expect(router.mounts).toEqual([{ type: 'volume', source: routesVolume, target: ROUTE_DIR, read_only: true }]);
      expect(router.upload.map((u: any) => u.file)).toEqual([DB_ROUTER_PATHS.config, DB_ROUTER_PATHS.routeCheck]);
      // HAProxy runs the check as its own (unprivileged) user.
      expect(router.upload[1]).toEqual({ file: DB_ROUTER_PATHS.routeCheck, content: renderRouteCheck(), permissions: '0755' });
      expect(router.user).toBeUndefined();
      expect(router.labels).toContainEqual({ label: 'dws.role', value: 'database-router' });
      // Alive when HAProxy accepts on the writer port.
      expect(router.healthcheck.test).toEqual(['CMD', 'bash', '-c', 'exec 3<>/dev/tcp/127.0.0.1/3306']);
      expect(router.destroy_grace_seconds).toBe(15);
    });

    it('runs the agent (built on the Docker host from assets/db-failover, on the engine image), writing the route files (read-write mount), with its own password and the replication one', () => {
      const { tf, agent } = synth();
      expect(agent.name).toBe('test-db-failover');
      const built = tf.resource.docker_image[/^\$\{docker_image\.([^.]+)\.image_id\}$/.exec(agent.image)![1]];
      expect(built.name).toMatch(/^test-db-failover:[0-9a-f]{12}$/);
      expect(built.build).toEqual({ context: expect.stringMatching(/assets\/db-failover$/), build_args: { BUILDER_IMAGE: 'golang:1.24', BASE_IMAGE: expect.stringMatching(/^\$\{docker_image\.db_Image_[0-9A-F]+\.name\}$/) } });
      expect(agent.entrypoint).toBeUndefined();
      expect(agent.user).toBe('root');
      expect(agent.networks_advanced).toEqual([{ name: '${docker_network.data.name}', aliases: ['test-db-failover'] }]);
      expect(agent.ports).toBeUndefined();
      expect(agent.mounts).toEqual([{ type: 'volume', source: routesVolume, target: ROUTE_DIR, read_only: false }]);
      expect(agent.dns_opts).toEqual(['timeout:1', 'attempts:1']);
      expect(agent.upload).toEqual([
        { file: FAILOVER_PATHS.config, content: expect.stringContaining('"engine": "mysql"') },
        { file: `${FAILOVER_PATHS.secrets}/failover-password`, content: secretRef('FailoverPassword'), permissions: '0600' },
        { file: `${FAILOVER_PATHS.secrets}/replication-password`, content: secretRef('ReplicationPassword'), permissions: '0600' },
      ]);
      // The same password the primary creates the account with.
      expect(uploaded(byName(tf, 'docker_container', 'test-db-primary'), `${DB_PATHS.secrets}/failover-password`)).toBe(agent.upload[1].content);
      // Started once both nodes are healthy; healthy once a writer is routed (the apps wait for that).
      expect(agent.depends_on).toEqual([expect.stringMatching(/^docker_container\.db_Primary_[0-9A-F]+$/), expect.stringMatching(/^docker_container\.db_Replica_[0-9A-F]+$/)]);
      expect(agent.wait).toBe(true);
      expect(agent.healthcheck.test).toEqual(['CMD', 'bash', '-c', `read -r w < ${ROUTE_DIR}/writer && [ -n "$w" ]`]);
      expect(agent.labels).toContainEqual({ label: 'dws.role', value: 'database-failover' });
      const mariadb = synth({ engine: 'mariadb', agentBuilderImage: 'mirror/golang:1.25' });
      const mariadbImage = mariadb.tf.resource.docker_image[/^\$\{docker_image\.([^.]+)\.image_id\}$/.exec(mariadb.agent.image)![1]];
      expect(mariadbImage.build.build_args.BUILDER_IMAGE).toBe('mirror/golang:1.25');
      expect(imageOf(mariadb.tf, byName(mariadb.tf, 'docker_container', 'test-db-primary'))).toBe('mariadb:11.4');
      expect(mariadbImage.name).not.toBe(built.name);
    });

    it('gives the agent the CA when tls is on, and makes it verify the nodes', () => {
      const { agent } = synth({ tls: true });
      expect(agent.upload.find((u: any) => u.file === DB_TLS_FILES.ca)).toEqual({
        file: DB_TLS_FILES.ca,
        content: expect.stringMatching(/^\$\{tls_self_signed_cert\.db_TlsCa_[0-9A-F]+\.cert_pem\}$/),
        permissions: '0444',
      });
      expect(JSON.parse(uploaded(agent, FAILOVER_PATHS.config)).tls).toEqual({ ca: DB_TLS_FILES.ca });
      expect(synth().agent.upload.map((u: any) => u.file)).not.toContain(DB_TLS_FILES.ca);
    });

    it('hardens the router and the agent: every capability dropped, none added, no new privileges, 128 MB', () => {
      const { router, agent } = synth();
      for (const c of [router, agent]) {
        expect(c.capabilities).toEqual({ drop: ['ALL'] });
        expect(c.security_opts).toEqual(['no-new-privileges:true']);
        expect([c.memory, c.memory_swap]).toEqual([128, 128]);
        expect(c.privileged).toBeUndefined();
        expect(c.restart).toBe('unless-stopped');
      }
    });

    it('configures the agent from the props: wanted writer, automatic failover and its timing', () => {
      const pick = (c: any) => [c.wantedWriter, c.automatic, c.failoverAfterSeconds, c.goneAfterSeconds, c.catchUpTimeoutSeconds];
      expect(pick(agentConfig())).toEqual(['test-db-primary', true, 5, 1, 30]);
      expect(agentConfig().engine).toBe('mysql');
      expect(pick(agentConfig({ writer: 'replica', failover: { afterSeconds: 2, catchUpTimeoutSeconds: 120 } }))).toEqual(['test-db-replica', true, 2, 1, 120]);
      expect(agentConfig({ failover: { automatic: false } }).automatic).toBe(false);
      // Without semi-sync the replica may lack acknowledged writes: no automatic failover by default.
      expect(agentConfig({ semiSync: false })).toMatchObject({ automatic: false, semiSync: false });
      expect(agentConfig({ engine: 'mariadb' }).engine).toBe('mariadb');
      expect(agentConfig({ port: 3310 }).nodes.map((n: any) => n.port)).toEqual([3310, 3310]);
      expect(agentConfig().metricsAddress).toBeUndefined();
    });

    it('given a changed writer, changes only the agent (a planned switchover replaces the agent, not the nodes)', () => {
      const before = synth().tf.resource;
      const after = synth({ writer: 'replica' }).tf.resource;
      const changed = Object.keys({ ...before, ...after }).flatMap((type) =>
        Object.keys({ ...before[type], ...after[type] })
          .filter((id) => JSON.stringify(before[type]?.[id]) !== JSON.stringify(after[type]?.[id]))
          .map((id) => `${type}.${id}`),
      );
      expect(changed).toEqual([expect.stringMatching(/^docker_container\.db_FailoverAgent_[0-9A-F]+$/)]);
      const [, id] = changed[0].split('.');
      const [a, b] = [before.docker_container[id], after.docker_container[id]];
      expect(Object.keys(a).filter((k) => JSON.stringify(a[k]) !== JSON.stringify(b[k]))).toEqual(['upload']);
      expect(a.upload.filter((u: any, i: number) => JSON.stringify(u) !== JSON.stringify(b.upload[i])).map((u: any) => u.file)).toEqual([FAILOVER_PATHS.config]);
      expect(a.upload[0].content.replace('"wantedWriter": "test-db-primary"', '"wantedWriter": "test-db-replica"')).toBe(b.upload[0].content);
    });

    it.each([
      [{ semiSync: false, failover: { automatic: true } }, 'failover.automatic', 'needs semiSync: without it the replica may lack acknowledged writes (got true with semiSync false)'],
      [
        { semiSync: { timeoutMs: 7999 } },
        'failover.afterSeconds',
        'must be at least 3 s below the semi-sync timeout (7999 ms), so the old writer is cut off before it acknowledges a write without the replica (got 5)',
      ],
      [
        { failover: { afterSeconds: 8 } },
        'failover.afterSeconds',
        'must be at least 3 s below the semi-sync timeout (10000 ms), so the old writer is cut off before it acknowledges a write without the replica (got 8)',
      ],
      [{ failover: { afterSeconds: 1 } }, 'failover.afterSeconds', 'must be an integer between 2 and 3600 (got 1)'],
      [{ failover: { afterSeconds: 3601, automatic: false } }, 'failover.afterSeconds', 'must be an integer between 2 and 3600 (got 3601)'],
      [{ failover: { catchUpTimeoutSeconds: 0 } }, 'failover.catchUpTimeoutSeconds', 'must be an integer between 1 and 3600 (got 0)'],
      [{ failover: { automatic: 'yes' } }, 'failover.automatic', 'must be true or false (got "yes")'],
      [{ failover: { after: 5 } }, 'failover.after', 'is not a known property (check the spelling)'],
      [{ writer: 'secondary' }, 'writer', 'must be "primary" or "replica" (got "secondary")'],
      [{ routerImage: 'haproxy:' }, 'routerImage', 'must be an image reference such as "haproxy:3.0" or "registry.example.com/team/haproxy:3.0" (got "haproxy:")'],
      // Apps reach the nodes only through the router: the per-client accounts are gone.
      [{ clients: ['web-server-1-app'] }, 'clients', 'is not a known property (check the spelling)'],
    ])('rejects %j with a clear message', (props, field, message) => {
      expect(() => synth(props as any)).toThrow(new ValidationError('test/db', field, message));
    });

    it('accepts the failover timing at its limits', () => {
      // 7 s + 3 s of router checks is exactly the 10 s semi-sync timeout.
      expect(agentConfig({ failover: { afterSeconds: 7 } }).failoverAfterSeconds).toBe(7);
      expect(agentConfig({ semiSync: { timeoutMs: 5000 }, failover: { afterSeconds: 2, catchUpTimeoutSeconds: 1 } }).catchUpTimeoutSeconds).toBe(1);
      // Manual failover only: no bound from the semi-sync timeout.
      expect(agentConfig({ semiSync: { timeoutMs: 100 }, failover: { automatic: false, afterSeconds: 3600, catchUpTimeoutSeconds: 3600 } }).failoverAfterSeconds).toBe(3600);
    });
  });
});
