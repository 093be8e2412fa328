export type DatabaseEngine = 'mysql' | 'mariadb';
export type DatabaseRole = 'primary' | 'replica';

/** Where the library puts its files inside a database container. */
export const DB_PATHS = {
  config: '/etc/dws/my.cnf',
  entrypoint: '/etc/dws/entrypoint',
  secrets: '/etc/dws/secrets',
  dataDir: '/var/lib/mysql',
  socket: '/var/run/mysqld/mysqld.sock',
} as const;

/** The secret files the entrypoint reads (one password each, letters and digits only). */
export const DB_SECRET_FILES = {
  root: 'root-password',
  replication: 'replication-password',
  app: 'app-password',
  exporter: 'exporter-password',
  failover: 'failover-password',
  backup: 'backup-password',
} as const;

/** The account the backup program logs in with (it dumps, streams the binary logs, and restores). */
export const BACKUP_USER = 'dws_backup';

/** The account the failover agent logs in to both nodes with. */
export const FAILOVER_USER = 'dws_failover';

/** Where the TLS files are in a database container (tls on). */
export const DB_TLS_FILES: DbTlsFiles = { ca: '/etc/dws/tls/ca.pem', cert: '/etc/dws/tls/server-cert.pem', key: '/etc/dws/tls/server-key.pem' };

/** A server's TLS files: the CA that signed every server's certificate, its certificate and key. */
export interface DbTlsFiles {
  readonly ca: string;
  readonly cert: string;
  readonly key: string;
}

/** Where the failover agent writes the writer's heartbeat (UTC, every second). */
export const HEARTBEAT = { database: 'dws', table: 'heartbeat' } as const;

/** The monitoring user mysqld_exporter logs in as. */
export const EXPORTER_USER = 'exporter';

export interface MyCnfModel {
  readonly engine: DatabaseEngine;
  readonly role: DatabaseRole;
  readonly serverId: number;
  readonly port: number;
  /**
   * Semi-synchronous replication: how long (ms) a commit on the primary waits for the replica to
   * acknowledge it before the primary degrades to asynchronous replication. Undefined: no semi-sync.
   */
  readonly semiSyncTimeoutMs?: number;
  /** TLS: the server's files; every TCP client must then use TLS. Undefined: no TLS settings. */
  readonly tls?: DbTlsFiles;
  /** Extra `[mysqld]` settings, rendered last so they win. */
  readonly extraSettings?: Readonly<Record<string, string | number | boolean>>;
}

/**
 * The semi-sync settings of one server. AFTER_SYNC: a commit is acknowledged to its client only
 * once it is in the replica's relay log, so a transaction a client saw committed survives the
 * loss of the primary. If no replica acknowledges within the timeout, the primary commits
 * asynchronously (status OFF) until the replica has caught up again. Both nodes get the timeout
 * and wait point so that a switchover only flips the *_enabled variables.
 */
export function semiSyncSettings(engine: DatabaseEngine, role: DatabaseRole, timeoutMs: number): [string, string | number][] {
  const primary = role === 'primary';
  if (engine === 'mysql') {
    // MySQL 8.4+: plugins, loaded on both nodes (a switchover swaps the roles). Their variables
    // exist only once the plugin is loaded: loose- keeps `mysqld --validate-config` passing.
    return [
      ['plugin_load_add', 'semisync_source.so'],
      ['plugin_load_add', 'semisync_replica.so'],
      ['loose-rpl_semi_sync_source_enabled', primary ? 'ON' : 'OFF'],
      ['loose-rpl_semi_sync_source_timeout', timeoutMs],
      ['loose-rpl_semi_sync_source_wait_point', 'AFTER_SYNC'],
      ['loose-rpl_semi_sync_source_wait_for_replica_count', 1],
      // With no replica connected (e.g. just after a failover) commit at once, degraded, rather
      // than make the first commit wait out the timeout.
      ['loose-rpl_semi_sync_source_wait_no_replica', 'OFF'],
      ['loose-rpl_semi_sync_replica_enabled', primary ? 'OFF' : 'ON'],
    ];
  }
  // MariaDB 10.3.3+: built in; its wait point defaults to AFTER_COMMIT, which is not lossless.
  return [
    ['rpl_semi_sync_master_enabled', primary ? 'ON' : 'OFF'],
    ['rpl_semi_sync_master_timeout', timeoutMs],
    ['rpl_semi_sync_master_wait_point', 'AFTER_SYNC'],
    ['rpl_semi_sync_master_wait_no_slave', 'OFF'],
    ['rpl_semi_sync_slave_enabled', primary ? 'OFF' : 'ON'],
  ];
}

/**
 * Options the library's guarantees rest on (identity, fencing, durability, GTIDs, semi-sync, TLS,
 * accounts by DNS name), and ones that switch its safeguards off: `settings` may not set them.
 */
export const GUARDED_SETTINGS = [
  'server_id', 'port', 'bind_address', 'datadir', 'socket', 'pid_file', 'skip_name_resolve', 'host_cache_size',
  'log_bin', 'sync_binlog', 'innodb_flush_log_at_trx_commit', 'event_scheduler', 'gtid_mode', 'enforce_gtid_consistency',
  'log_replica_updates', 'log_slave_updates', 'binlog_format', 'gtid_strict_mode', 'gtid_domain_id', 'read_only',
  'super_read_only', 'relay_log', 'relay_log_recovery', 'replica_net_timeout', 'slave_net_timeout', 'skip_replica_start',
  'skip_slave_start', 'ssl_ca', 'ssl_cert', 'ssl_key', 'require_secure_transport', 'skip_grant_tables', 'skip_networking', 'init_file',
] as const;

/**
 * The guarded option a `settings` key would set, if any. Option files take "-" for "_", a
 * "loose-" prefix, "skip-", "enable-" and "disable-" on booleans, and (MariaDB) unambiguous
 * prefixes of a name.
 */
export function guardedSetting(key: string): string | undefined {
  const k = key.toLowerCase().replace(/-/g, '_').replace(/^loose_/, '');
  const bare = k.replace(/^(skip|enable|disable)_/, '');
  for (const name of [k, bare]) {
    if (name.startsWith('rpl_semi_sync')) return name;
    const hit = GUARDED_SETTINGS.find((g) => g === name || (name.length >= 4 && g.startsWith(name)));
    if (hit) return hit;
  }
  return undefined;
}

/** Renders the server's whole option file (started with --defaults-file, so nothing else is read). */
export function renderMyCnf(m: MyCnfModel): string {
  const settings: [string, string | number][] = [
    ['server_id', m.serverId],
    ['port', m.port],
    ['bind_address', '0.0.0.0'],
    ['datadir', DB_PATHS.dataDir],
    ['socket', DB_PATHS.socket],
    ['pid_file', '/var/run/mysqld/mysqld.pid'],
    // Accounts are limited to Docker DNS names (see renderBootstrapSql), so client addresses are
    // resolved; not cached, because Docker gives a freed address to the next container.
    ['skip_name_resolve', 'OFF'],
    ['host_cache_size', 0],
    ['character_set_server', 'utf8mb4'],
    // Durability: every commit is on disk, in the binary log, before it is acknowledged.
    ['log_bin', 'binlog'],
    ['sync_binlog', 1],
    ['innodb_flush_log_at_trx_commit', 1],
    // Nothing writes by itself (the failover agent writes the heartbeat, to the writer only): a
    // node cut off from the others gains no transaction the writer lacks. Binary logs are kept
    // 7 days (MariaDB would keep them forever).
    ['event_scheduler', 'OFF'],
    ['binlog_expire_logs_seconds', 604800],
  ];
  if (m.engine === 'mysql') {
    // MySQL 8.4+: ROW is the default and binlog_format is deprecated, so it is not set.
    settings.push(['gtid_mode', 'ON'], ['enforce_gtid_consistency', 'ON'], ['log_replica_updates', 'ON']);
    // The X protocol (port 33060) is not used: do not listen on it.
    settings.push(['mysqlx', 'OFF']);
    // Every node starts read-only, the writer too: the failover agent opens the one it chose.
    settings.push(['read_only', 'ON'], ['super_read_only', 'ON']);
  } else {
    // MariaDB: GTIDs are always on; its defaults are not durable (sync_binlog=0, MIXED).
    settings.push(['binlog_format', 'ROW'], ['gtid_strict_mode', 'ON'], ['log_slave_updates', 'ON'], ['gtid_domain_id', 0]);
    // MariaDB has no super_read_only; read_only stops every user without READ ONLY ADMIN.
    settings.push(['read_only', 'ON']);
  }
  // Either node may replicate (roles change on failover).
  settings.push(['relay_log', 'relay-bin'], ['relay_log_recovery', 'ON']);
  // A replica cut off without a word (network gone) notices within 5 s, not 60 s, and reconnects
  // (every 2 s): the primary sends a heartbeat every second (see the CHANGE ... TO statement).
  settings.push([m.engine === 'mysql' ? 'replica_net_timeout' : 'slave_net_timeout', 5]);
  if (m.semiSyncTimeoutMs !== undefined) settings.push(...semiSyncSettings(m.engine, m.role, m.semiSyncTimeoutMs));
  // Same names in both engines; the socket counts as secure, so the local bootstrap is unaffected.
  if (m.tls) settings.push(['ssl_ca', m.tls.ca], ['ssl_cert', m.tls.cert], ['ssl_key', m.tls.key], ['require_secure_transport', 'ON']);
  for (const [k, v] of Object.entries(m.extraSettings ?? {})) {
    settings.push([k, typeof v === 'boolean' ? (v ? 'ON' : 'OFF') : v]);
  }
  // [mysqld] is read by both servers (MariaDB reads it as well as [mariadbd]).
  return [`# Rendered by cdktf-distributed-web-stack (${m.engine} ${m.role}).`, '[mysqld]', ...settings.map(([k, v]) => `${k} = ${v}`), ''].join('\n');
}

export interface DbEntrypointModel {
  readonly engine: DatabaseEngine;
  readonly role: DatabaseRole;
  readonly port: number;
  readonly databaseName: string;
  readonly appUser: string;
  readonly replicationUser: string;
  /** The primary's Docker DNS name (used by the replica). */
  readonly primaryHost: string;
  /** Host patterns the app user may connect from, e.g. "web-server-1-app.%". */
  readonly appUserHosts: readonly string[];
  /** Host patterns the replication user may connect from. */
  readonly replicationUserHosts: readonly string[];
  /** Host patterns the monitoring user (mysqld_exporter) may connect from; none: no such user. */
  readonly exporterUserHosts?: readonly string[];
  /** Host patterns the failover agent may connect from (all privileges); none: no such user. */
  readonly failoverUserHosts?: readonly string[];
  /** Host patterns the backup program may connect from; none: no such user. */
  readonly backupUserHosts?: readonly string[];
  /** TLS on: accounts REQUIRE SSL and the replica verifies the primary's certificate. */
  readonly tls?: DbTlsFiles;
}

/**
 * The MySQL host pattern of a container: Docker's DNS answers a reverse lookup of its address with
 * "<container>.<network>", and MySQL checks that name resolves back to the address. A name ending
 * in "-*" stands for every generation of a container that is replaced create-before-destroy
 * ("<name>-<generation>").
 */
export function containerHostPattern(containerName: string): string {
  return containerName.endsWith('-*') ? `${containerName.slice(0, -1)}%` : `${containerName}.%`;
}

const BINARIES = {
  mysql: { server: 'mysqld', client: 'mysql', admin: 'mysqladmin' },
  mariadb: { server: 'mariadbd', client: 'mariadb', admin: 'mariadb-admin' },
} as const;

/**
 * Renders the SQL run once, on first start, against a private socket with networking off.
 * Passwords are shell variables filled from the secret files by the entrypoint.
 */
export function renderBootstrapSql(m: DbEntrypointModel): string {
  // The root password is local to each node: never written to the binary log.
  const rootSql = [
    'SET sql_log_bin = 0;',
    `ALTER USER 'root'@'localhost' IDENTIFIED BY '\${ROOT_PASSWORD}';`,
    "DROP USER IF EXISTS 'root'@'%';",
    // mariadb-install-db also creates anonymous users and root@127.0.0.1/::1/<hostname>.
    ...(m.engine === 'mariadb' ? ["DELETE FROM mysql.global_priv WHERE User = '' OR (User = 'root' AND Host <> 'localhost');", 'FLUSH PRIVILEGES;'] : []),
    'SET sql_log_bin = 1;',
  ];
  // Belt and braces: the accounts need TLS even if require_secure_transport is overridden.
  const requireSsl = m.tls ? ' REQUIRE SSL' : '';
  if (m.role === 'primary') {
    // Logged on purpose: the replica starts from an empty GTID set and replays these.
    return [
      `CREATE DATABASE IF NOT EXISTS \`${m.databaseName}\` CHARACTER SET utf8mb4;`,
      // Heartbeat (pt-heartbeat's idea): the failover agent writes the time to the writer every
      // second (one row, server_id 0); on the replica now minus that time is the replication lag,
      // whatever the replica reports about itself. mysqld_exporter reads it (heartbeat collector).
      `CREATE DATABASE IF NOT EXISTS ${HEARTBEAT.database};`,
      `CREATE TABLE IF NOT EXISTS ${HEARTBEAT.database}.${HEARTBEAT.table} (server_id INT UNSIGNED NOT NULL PRIMARY KEY, ts DATETIME(6) NOT NULL);`,
      ...m.appUserHosts.flatMap((h) => [
        `CREATE USER IF NOT EXISTS '${m.appUser}'@'${h}' IDENTIFIED BY '\${APP_PASSWORD}'${requireSsl};`,
        `GRANT SELECT, INSERT, UPDATE, DELETE, CREATE, ALTER, INDEX, DROP, REFERENCES, CREATE TEMPORARY TABLES, LOCK TABLES ON \`${m.databaseName}\`.* TO '${m.appUser}'@'${h}';`,
      ]),
      ...m.replicationUserHosts.flatMap((h) => [
        `CREATE USER IF NOT EXISTS '${m.replicationUser}'@'${h}' IDENTIFIED BY '\${REPLICATION_PASSWORD}'${requireSsl};`,
        `GRANT REPLICATION SLAVE ON *.* TO '${m.replicationUser}'@'${h}';`,
      ]),
      // What mysqld_exporter needs to read status and replication, and a cap on its connections.
      // MariaDB 10.5+ split REPLICATION CLIENT: SHOW REPLICA STATUS needs SLAVE MONITOR.
      ...(m.exporterUserHosts ?? []).flatMap((h) => [
        `CREATE USER IF NOT EXISTS '${EXPORTER_USER}'@'${h}' IDENTIFIED BY '\${EXPORTER_PASSWORD}'${requireSsl} WITH MAX_USER_CONNECTIONS 3;`,
        `GRANT PROCESS, ${m.engine === 'mysql' ? 'REPLICATION CLIENT' : 'BINLOG MONITOR, SLAVE MONITOR'}, SELECT ON *.* TO '${EXPORTER_USER}'@'${h}';`,
      ]),
      // The failover agent fences, promotes and re-points the nodes: it needs what root has.
      ...(m.failoverUserHosts ?? []).flatMap((h) => [
        `CREATE USER IF NOT EXISTS '${FAILOVER_USER}'@'${h}' IDENTIFIED BY '\${FAILOVER_PASSWORD}'${requireSsl} WITH MAX_USER_CONNECTIONS 10;`,
        `GRANT ALL PRIVILEGES ON *.* TO '${FAILOVER_USER}'@'${h}';`,
      ]),
      // A restore resets a node's binary logs and GTID state and replays transactions as they
      // were: it needs what root has, as the failover agent's rebuild does.
      ...(m.backupUserHosts ?? []).flatMap((h) => [
        `CREATE USER IF NOT EXISTS '${BACKUP_USER}'@'${h}' IDENTIFIED BY '\${BACKUP_PASSWORD}'${requireSsl} WITH MAX_USER_CONNECTIONS 5;`,
        `GRANT ALL PRIVILEGES ON *.* TO '${BACKUP_USER}'@'${h}';`,
      ]),
      ...rootSql,
    ].join('\n');
  }
  // TLS: the replica checks the primary's certificate against the CA and against primaryHost.
  const source =
    m.engine === 'mysql'
      ? `CHANGE REPLICATION SOURCE TO SOURCE_HOST='${m.primaryHost}', SOURCE_PORT=${m.port}, SOURCE_USER='${m.replicationUser}', SOURCE_PASSWORD='\${REPLICATION_PASSWORD}', SOURCE_AUTO_POSITION=1, GET_SOURCE_PUBLIC_KEY=1, SOURCE_CONNECT_RETRY=2, SOURCE_RETRY_COUNT=86400, SOURCE_HEARTBEAT_PERIOD=1${
          m.tls ? `, SOURCE_SSL=1, SOURCE_SSL_CA='${m.tls.ca}', SOURCE_SSL_VERIFY_SERVER_CERT=1` : ''
        };`
      : `CHANGE MASTER TO MASTER_HOST='${m.primaryHost}', MASTER_PORT=${m.port}, MASTER_USER='${m.replicationUser}', MASTER_PASSWORD='\${REPLICATION_PASSWORD}', MASTER_USE_GTID=slave_pos, MASTER_CONNECT_RETRY=2, MASTER_HEARTBEAT_PERIOD=1${
          m.tls ? `, MASTER_SSL=1, MASTER_SSL_CA='${m.tls.ca}', MASTER_SSL_VERIFY_SERVER_CERT=1` : ''
        };`;
  // Replication starts when the real server starts (no skip-replica-start there).
  return [...rootSql, source].join('\n');
}

/**
 * Renders the container's entrypoint: initialize an empty data directory, run the bootstrap
 * SQL once on a private socket, then exec the server. It relies on no image entrypoint, only
 * on the server binaries and the `mysql` user that both official and Debian images have.
 */
export function renderDbEntrypoint(m: DbEntrypointModel): string {
  const bin = BINARIES[m.engine];
  const init =
    m.engine === 'mysql'
      ? `${bin.server} --defaults-file="$CNF" --initialize-insecure --user=mysql --read-only=OFF --super-read-only=OFF --loose-rpl-semi-sync-source-enabled=OFF`
      : `mariadb-install-db --defaults-file="$CNF" --user=mysql --auth-root-authentication-method=normal --skip-test-db >/dev/null`;
  // No replica is connected during bootstrap: its writes must not wait out the semi-sync timeout.
  const noSemiSync = m.engine === 'mysql' ? '--loose-rpl-semi-sync-source-enabled=OFF' : '--rpl-semi-sync-master-enabled=OFF';
  const bootOptions = m.engine === 'mysql' ? `--skip-replica-start --super-read-only=OFF ${noSemiSync}` : `--skip-slave-start ${noSemiSync}`;
  return `#!/bin/bash
# Rendered by cdktf-distributed-web-stack (${m.engine} ${m.role}).
set -euo pipefail
CNF=${DB_PATHS.config}
DATADIR=${DB_PATHS.dataDir}
SECRETS=${DB_PATHS.secrets}
BOOT_SOCKET=/tmp/dws-bootstrap.sock

secret() {
  local value
  value=$(cat "$SECRETS/$1")
  if [[ ! $value =~ ^[A-Za-z0-9]+$ ]]; then
    echo "dws: $SECRETS/$1 must hold letters and digits only" >&2
    exit 1
  fi
  printf '%s' "$value"
}

# Without CAP_KILL, root cannot signal the server once it runs as mysql: ask /proc instead.
alive() { [ -e "/proc/$1" ] && ! grep -q '^State:[[:space:]]*Z' "/proc/$1/status" 2>/dev/null; }

mkdir -p /var/run/mysqld
chown mysql:mysql /var/run/mysqld "$DATADIR"
${
  m.tls
    ? `# The server reads its key after dropping to mysql: give that user the 0600 key rather than
# make it readable by others.
chown mysql:mysql ${m.tls.key}
chmod 0600 ${m.tls.key}
`
    : ''
}
if [ ! -d "$DATADIR/mysql" ]; then
  echo "dws: initializing $DATADIR"
  ${init}
fi

if [ ! -f "$DATADIR/dws-bootstrap.done" ]; then
  echo "dws: bootstrapping the ${m.role}"
  ROOT_PASSWORD=$(secret ${DB_SECRET_FILES.root})
  REPLICATION_PASSWORD=$(secret ${DB_SECRET_FILES.replication})
  ${m.role === 'primary' ? `APP_PASSWORD=$(secret ${DB_SECRET_FILES.app})` : ''}
  ${m.role === 'primary' && m.exporterUserHosts?.length ? `EXPORTER_PASSWORD=$(secret ${DB_SECRET_FILES.exporter})` : ''}
  ${m.role === 'primary' && m.failoverUserHosts?.length ? `FAILOVER_PASSWORD=$(secret ${DB_SECRET_FILES.failover})` : ''}
  ${m.role === 'primary' && m.backupUserHosts?.length ? `BACKUP_PASSWORD=$(secret ${DB_SECRET_FILES.backup})` : ''}
  ${bin.server} --defaults-file="$CNF" --user=mysql --skip-networking --socket="$BOOT_SOCKET" --read-only=OFF ${bootOptions} &
  pid=$!
  for _ in $(seq 1 240); do
    ${bin.admin} --socket="$BOOT_SOCKET" --user=root --password="$ROOT_PASSWORD" ping >/dev/null 2>&1 && break
    ${bin.admin} --socket="$BOOT_SOCKET" --user=root ping >/dev/null 2>&1 && break
    alive "$pid" || { echo "dws: server exited during bootstrap" >&2; exit 1; }
    sleep 0.5
  done
  # A rerun after a crash finds the root password already set.
  login=(--socket="$BOOT_SOCKET" --user=root)
  ${bin.client} "\${login[@]}" -e 'SELECT 1' >/dev/null 2>&1 || login+=(--password="$ROOT_PASSWORD")
  ${bin.client} "\${login[@]}" <<SQL
${renderBootstrapSql(m).replace(/`/g, '\\`')}
SQL
  ${bin.admin} "\${login[@]}" --password="$ROOT_PASSWORD" shutdown
  wait "$pid" || true
  touch "$DATADIR/dws-bootstrap.done"
  chown mysql:mysql "$DATADIR/dws-bootstrap.done"
  echo "dws: bootstrap done"
fi

exec ${bin.server} --defaults-file="$CNF" --user=mysql
`;
}

/**
 * The container healthcheck: the server answers on TCP (off during bootstrap). With TLS on, the
 * anonymous ping goes without TLS (no certificate names 127.0.0.1): the server's refusal is an
 * answer, which mysqladmin ping counts as alive, while a failed TLS handshake would not be.
 */
export function dbHealthcheckCommand(engine: DatabaseEngine, port: number, tls = false): string[] {
  const noTls = tls ? [engine === 'mysql' ? '--ssl-mode=DISABLED' : '--skip-ssl'] : [];
  return ['CMD', BINARIES[engine].admin, '--protocol=tcp', '--host=127.0.0.1', `--port=${port}`, '--connect-timeout=2', ...noTls, 'ping'];
}
