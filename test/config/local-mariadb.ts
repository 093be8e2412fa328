import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect } from 'vitest';
import { DbEntrypointModel } from '../../src/database/render/mysql';
import { run, start, Started } from './real-programs';

/** The passwords the tests fill into the rendered bootstrap SQL. */
export const PASSWORDS = { ROOT_PASSWORD: 'Root0secret', REPLICATION_PASSWORD: 'Repl0secret', APP_PASSWORD: 'App0secret', EXPORTER_PASSWORD: 'Exp0secret', FAILOVER_PASSWORD: 'Fail0secret' };

/** Replaces the entrypoint's `${NAME}` shell variables in rendered SQL with PASSWORDS. */
export const fillPasswords = (sql: string) =>
  sql.replace(/\$\{(\w+)\}/g, (_, name: string) => {
    if (!(name in PASSWORDS)) throw new Error(`no test password for \${${name}}`);
    return PASSWORDS[name as keyof typeof PASSWORDS];
  });

/**
 * Both nodes boot read-only; the failover agent opens the one it routes writes to. This does what
 * the agent does to the writer (MariaDB: read_only is all there is), as root over the socket.
 */
export function openWriter(s: LocalServer): void {
  const r = run('mariadb', ['--socket', join(s.dir, 'sock'), '-uroot', `-p${PASSWORDS.ROOT_PASSWORD}`, '-e', 'SET GLOBAL read_only = OFF']);
  expect(r.status, r.stderr).toBe(0);
}

/**
 * The bootstrap model of a local MariaDB node replicating from a primary on 127.0.0.1. Connections
 * over 127.0.0.1 resolve to "localhost", as a Docker address resolves to its container: the test's
 * client stands in for the router (app), the nodes (replication), the exporter and the failover agent.
 */
export const localNodeModel = (role: 'primary' | 'replica', primaryPort: number): DbEntrypointModel => ({
  engine: 'mariadb',
  role,
  port: primaryPort,
  databaseName: 'app',
  appUser: 'app',
  replicationUser: 'repl',
  primaryHost: '127.0.0.1',
  appUserHosts: ['localhost'],
  replicationUserHosts: ['localhost'],
  exporterUserHosts: ['localhost'],
  failoverUserHosts: ['localhost'],
});

export interface LocalServer {
  readonly dir: string;
  readonly port: number;
  server: Started;
}

/**
 * Real MariaDB servers (Debian's packages) on this host, each on a private port and data
 * directory, started with a rendered my.cnf. Command-line options after the file win: only
 * paths and the port move.
 */
export class LocalMariaDb {
  readonly work: string;
  private readonly servers: LocalServer[] = [];
  private readonly commands = new Map<LocalServer, string[]>();

  constructor(prefix: string) {
    this.work = mkdtempSync(join(tmpdir(), prefix));
  }

  async start(name: string, cnf: string, port: number): Promise<LocalServer> {
    const dir = join(this.work, name);
    mkdirSync(dir);
    const cnfFile = join(this.work, `${name}.cnf`);
    writeFileSync(cnfFile, cnf);
    // A tmpdir of its own: two bootstraps at once in one /tmp were seen to lose each other's temporary tables.
    mkdirSync(join(dir, 'tmp'));
    const local = [`--datadir=${dir}/data`, `--socket=${dir}/sock`, `--port=${port}`, `--pid-file=${dir}/pid`, `--tmpdir=${dir}/tmp`, '--bind-address=127.0.0.1', '--user=root'];
    const init = run('mariadb-install-db', [`--defaults-file=${cnfFile}`, ...local, '--auth-root-authentication-method=normal', '--skip-test-db'], { timeoutMs: 120_000 });
    expect(init.status, init.stderr).toBe(0);
    const args = [`--defaults-file=${cnfFile}`, ...local, `--log-error=${dir}/error.log`];
    const s: LocalServer = { dir, port, server: start('mariadbd', args) };
    this.servers.push(s);
    this.commands.set(s, args);
    await this.answers(s, name);
    return s;
  }

  /** Starts a server again on its data (after it was killed), and waits until it answers. */
  async restart(s: LocalServer): Promise<void> {
    await s.server.stop(0);
    s.server = start('mariadbd', this.commands.get(s)!);
    await this.answers(s, s.dir);
  }

  private async answers(s: LocalServer, name: string): Promise<void> {
    try {
      await s.server.until(`mariadbd ${name} answers a ping`, () => run('mariadb-admin', ['--socket', `${s.dir}/sock`, '-uroot', 'ping']).status === 0, 120, 250);
    } catch (e) {
      throw new Error(`${(e as Error).message}\n${existsSync(`${s.dir}/error.log`) ? readFileSync(`${s.dir}/error.log`, 'utf8') : ''}`);
    }
  }

  /** Kills every server (bounded wait) and removes their files. */
  async stopAll(): Promise<void> {
    await Promise.all(this.servers.map((s) => s.server.stop(0)));
    rmSync(this.work, { recursive: true, force: true });
  }
}
