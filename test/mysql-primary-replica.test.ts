import { describe, expect, it } from 'vitest';
import { DB_PATHS, MySqlPrimaryReplica } from '../src';
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
});
