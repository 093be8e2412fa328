import { ROUTE_DIR } from './db-failover';
import { BACKUP_USER, DB_TLS_FILES, DatabaseEngine } from './mysql';

/** Where things are in the backup container. */
export const BACKUP_PATHS = {
  config: '/etc/dws/backup.json',
  passwordFile: '/etc/dws/secrets/backup-password',
  key: '/etc/dws/secrets/backup-key',
  archive: '/backups',
  optionFile: '/tmp/db-backup.cnf',
} as const;

export const BACKUP_METRICS_PORT = 9106;

export interface BackupModel {
  readonly engine: DatabaseEngine;
  /** The two nodes' Docker DNS names; a backup is taken from the one that is not the writer. */
  readonly nodes: readonly string[];
  readonly port: number;
  readonly schemas: readonly string[];
  readonly intervalMinutes: number;
  readonly retention: { readonly daily: number; readonly weekly: number };
  /** The replica server_id the binary-log stream connects with (unique among the nodes'). */
  readonly binlogServerId: number;
  readonly metricsAddress: string;
  readonly tls: boolean;
}

/** The backup program's JSON config (assets/db-backup). Secrets are files, never in it. */
export function renderBackupConfig(m: BackupModel): string {
  const tlsOptions = !m.tls ? [] : m.engine === 'mysql' ? ['ssl-mode=VERIFY_IDENTITY', `ssl-ca=${DB_TLS_FILES.ca}`] : ['ssl', `ssl-ca=${DB_TLS_FILES.ca}`, 'ssl-verify-server-cert'];
  return `${JSON.stringify(
    {
      engine: m.engine,
      nodes: m.nodes.map((n) => ({ name: n, host: n, port: m.port })),
      // The failover agent's route file: the binary logs stream from the node it names.
      writerRouteFile: `${ROUTE_DIR}/writer`,
      user: BACKUP_USER,
      passwordFile: BACKUP_PATHS.passwordFile,
      tlsOptions,
      dir: BACKUP_PATHS.archive,
      keyFile: BACKUP_PATHS.key,
      schemas: m.schemas,
      intervalMinutes: m.intervalMinutes,
      retention: m.retention,
      binlogServerId: m.binlogServerId,
      metricsAddress: m.metricsAddress,
      optionFile: BACKUP_PATHS.optionFile,
    },
    null,
    2,
  )}\n`;
}
