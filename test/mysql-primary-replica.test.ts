import { describe, expect, it } from 'vitest';
import { DB_PATHS, MySqlPrimaryReplica, ValidationError } from '../src';
import { DB_TLS_FILES } from '../src/config/mysql';
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
    }
    expect(resources(tf, 'docker_volume').map((v) => v.name).sort()).toEqual(['test-db-primary-data', 'test-db-replica-data']);
    expect(resources(tf, 'docker_image').map((i) => i.name)).toEqual(['mysql:8.4']);
  });

  it('gives deterministic server ids and makes the replica read-only (super_read_only on MySQL)', () => {
    const { tf } = synthStack((stack) => {
      new MySqlPrimaryReplica(stack, 'db', { network: testNetwork(stack), serverIdBase: 10 });
    });
    const primaryCnf = uploaded(byName(tf, 'docker_container', 'test-db-primary'), DB_PATHS.config);
    const replicaCnf = uploaded(byName(tf, 'docker_container', 'test-db-replica'), DB_PATHS.config);
    expect(primaryCnf).toContain('server_id = 10\n');
    expect(replicaCnf).toContain('server_id = 11\n');
    expect(primaryCnf).not.toContain('read_only');
    expect(replicaCnf).toContain('super_read_only = ON\n');
    expect(replicaCnf).toContain('relay_log_recovery = ON\n');
    for (const cnf of [primaryCnf, replicaCnf]) {
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
    expect(primary).toContain("GRANT REPLICATION SLAVE ON *.* TO 'repl'@'test-db-replica.%';");
    expect(primary).toContain("CREATE USER IF NOT EXISTS 'app'@'%'");
  });

  it('uses MariaDB syntax and settings when engine is mariadb', () => {
    const { tf } = synthStack((stack) => {
      new MySqlPrimaryReplica(stack, 'db', { network: testNetwork(stack), engine: 'mariadb' });
    });
    expect(resources(tf, 'docker_image').map((i) => i.name)).toEqual(['mariadb:11.4']);
    const replica = byName(tf, 'docker_container', 'test-db-replica');
    expect(uploaded(replica, DB_PATHS.entrypoint)).toContain('MASTER_USE_GTID=slave_pos');
    const cnf = uploaded(replica, DB_PATHS.config);
    expect(cnf).toContain('read_only = ON\n');
    expect(cnf).not.toContain('super_read_only');
    expect(cnf).toContain('gtid_strict_mode = ON\n');
    expect(cnf).toContain('binlog_format = ROW\n');
    expect(replica.healthcheck.test[1]).toBe('mariadb-admin');
  });

  it('generates every password with random_password and passes them as files, never literals', () => {
    const { tf } = synthStack((stack) => {
      new MySqlPrimaryReplica(stack, 'db', { network: testNetwork(stack) });
    });
    const pws = resources(tf, 'random_password');
    expect(pws).toHaveLength(3);
    for (const pw of pws) expect(pw).toMatchObject({ length: 32, special: false });
    const primary = byName(tf, 'docker_container', 'test-db-primary');
    const secrets = primary.upload.filter((u: any) => u.file.startsWith(DB_PATHS.secrets));
    expect(secrets.map((u: any) => u.file).sort()).toEqual(['/etc/dws/secrets/app-password', '/etc/dws/secrets/replication-password', '/etc/dws/secrets/root-password']);
    for (const s of secrets) {
      expect(s.content).toMatch(/^\$\{random_password\.[A-Za-z0-9_]+\.result\}$/);
      expect(s.permissions).toBe('0600');
    }
    const replica = byName(tf, 'docker_container', 'test-db-replica');
    expect(replica.upload.map((u: any) => u.file)).not.toContain('/etc/dws/secrets/app-password');
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
      const shared = ['loose-rpl_semi_sync_source_timeout = 10000', 'loose-rpl_semi_sync_source_wait_point = AFTER_SYNC', 'loose-rpl_semi_sync_source_wait_for_replica_count = 1'];
      expect(lines(primary)).toEqual([...both, 'loose-rpl_semi_sync_source_enabled = ON', ...shared, 'loose-rpl_semi_sync_replica_enabled = OFF']);
      expect(lines(replica)).toEqual([...both, 'loose-rpl_semi_sync_source_enabled = OFF', ...shared, 'loose-rpl_semi_sync_replica_enabled = ON']);
    });

    it('uses the built-in MariaDB variables, with the wait point set to AFTER_SYNC (its default is AFTER_COMMIT)', () => {
      const { primary, replica } = cnfs({ engine: 'mariadb', semiSync: { timeoutMs: 2500 } });
      const shared = ['rpl_semi_sync_master_timeout = 2500', 'rpl_semi_sync_master_wait_point = AFTER_SYNC'];
      expect(lines(primary)).toEqual(['rpl_semi_sync_master_enabled = ON', ...shared, 'rpl_semi_sync_slave_enabled = OFF']);
      expect(lines(replica)).toEqual(['rpl_semi_sync_master_enabled = OFF', ...shared, 'rpl_semi_sync_slave_enabled = ON']);
    });

    it('takes the timeout from semiSync.timeoutMs, and defaults it when the object is empty', () => {
      expect(cnfs({ semiSync: { timeoutMs: 500 } }).primary).toContain('loose-rpl_semi_sync_source_timeout = 500\n');
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
      [{ timeoutMs: '10s' }, 'semiSync must be false or { timeoutMs: number } (got {"timeoutMs":"10s"})'],
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
      expect(resources(tf, 'tls_cert_request').map((r) => r.dns_names).sort()).toEqual([['test-db-primary'], ['test-db-replica']]);
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
      expect(primary.entrypoint).toContain("CREATE USER IF NOT EXISTS 'app'@'%' IDENTIFIED BY '$${APP_PASSWORD}' REQUIRE SSL;");
      expect(primary.entrypoint).toContain("CREATE USER IF NOT EXISTS 'repl'@'test-db-replica.%' IDENTIFIED BY '$${REPLICATION_PASSWORD}' REQUIRE SSL;");
      expect(primary.entrypoint).toContain("IDENTIFIED BY '$${EXPORTER_PASSWORD}' REQUIRE SSL WITH MAX_USER_CONNECTIONS 3;");
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
});
