import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DbEntrypointModel, DbTlsFiles, dbHealthcheckCommand, renderBootstrapSql, renderMyCnf } from '../../src/database/render/mysql';
import { LocalMariaDb, LocalServer, PASSWORDS as passwords, fillPasswords as fill, localNodeModel, openWriter } from './local-mariadb';
import { run } from './real-programs';

// A MariaDB primary and replica with TLS on, as rendered: certificates from a private CA made
// here with openssl (the construct makes them with the tls provider), naming 127.0.0.1, the
// address the replica and the clients connect to (a container's Docker DNS name in a stack).

// Below the ephemeral port range (32768+), where an outgoing connection of a parallel test can take them.
const PRIMARY_PORT = 23071;
const REPLICA_PORT = 23072;
const local = new LocalMariaDb('dws-mariadb-tls-');
const work = local.work;

function openssl(args: string[]) {
  const r = run('openssl', args);
  expect(r.status, r.stderr).toBe(0);
}

/** A CA, and a server certificate it signs for 127.0.0.1; `otherCa` signs nothing here. */
function makeCertificates(): DbTlsFiles & { otherCa: string } {
  const f = (name: string) => join(work, name);
  const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes'];
  openssl(['req', '-x509', ...ec, '-keyout', f('ca.key'), '-out', f('ca.pem'), '-days', '2', '-subj', '/CN=dws test CA']);
  openssl(['req', '-x509', ...ec, '-keyout', f('other-ca.key'), '-out', f('other-ca.pem'), '-days', '2', '-subj', '/CN=dws other CA']);
  openssl(['req', ...ec, '-keyout', f('server.key'), '-out', f('server.csr'), '-subj', '/CN=127.0.0.1']);
  writeFileSync(f('server.ext'), 'subjectAltName = IP:127.0.0.1\nextendedKeyUsage = serverAuth\n');
  openssl(['x509', '-req', '-in', f('server.csr'), '-CA', f('ca.pem'), '-CAkey', f('ca.key'), '-CAcreateserial', '-days', '2', '-extfile', f('server.ext'), '-out', f('server.pem')]);
  return { ca: f('ca.pem'), cert: f('server.pem'), key: f('server.key'), otherCa: f('other-ca.pem') };
}

describe('MariaDB with TLS on: verified replication, clients only over TLS', { tags: ['mariadb', 'openssl'] }, () => {
  let tls: ReturnType<typeof makeCertificates>;
  let primaryDir: string;
  let replicaDir: string;
  const root = (dir: string, sql: string) => run('mariadb', ['--socket', `${dir}/sock`, '-uroot', `-p${passwords.ROOT_PASSWORD}`, '-e', sql]);
  const app = (port: number, sql: string, tlsArgs: string[]) =>
    run('mariadb', ['--protocol=tcp', '-h127.0.0.1', `-P${port}`, '-uapp', `-p${passwords.APP_PASSWORD}`, ...tlsArgs, '-N', '-B', '-e', sql]);
  const verified = () => [`--ssl-ca=${tls.ca}`, '--ssl-verify-server-cert'];
  const replicaStatus = () => root(replicaDir, 'SHOW REPLICA STATUS\\G').stdout;
  const until = async (ok: () => boolean) => {
    for (let i = 0; i < 60 && !ok(); i++) await new Promise((r) => setTimeout(r, 250));
  };

  beforeAll(async () => {
    tls = makeCertificates();
    const files = { ca: tls.ca, cert: tls.cert, key: tls.key };
    // The local node model, with TLS and without the exporter's account.
    const model = (role: 'primary' | 'replica'): DbEntrypointModel => ({ ...localNodeModel(role, PRIMARY_PORT), exporterUserHosts: undefined, tls: files });
    const cnf = (role: 'primary' | 'replica', serverId: number) => renderMyCnf({ engine: 'mariadb', role, serverId, port: 3306, tls: files });
    const primary: LocalServer = await local.start('primary', cnf('primary', 1), PRIMARY_PORT);
    primaryDir = primary.dir;
    replicaDir = (await local.start('replica', cnf('replica', 2), REPLICA_PORT)).dir;
    // Over the socket, as the entrypoint does: require_secure_transport lets it through.
    const p = run('mariadb', ['--socket', `${primaryDir}/sock`, '-uroot'], { input: fill(renderBootstrapSql(model('primary'))) });
    expect(p.status, p.stderr).toBe(0);
    const r = run('mariadb', ['--socket', `${replicaDir}/sock`, '-uroot'], { input: `${fill(renderBootstrapSql(model('replica')))}\nSTART REPLICA;` });
    expect(r.status, r.stderr).toBe(0);
    // Both nodes boot read-only; the failover agent opens the writer.
    openWriter(primary);
    // The table the first test writes to (each test stands alone).
    expect(root(primaryDir, 'CREATE TABLE app.t (id INT PRIMARY KEY, v VARCHAR(10))').status).toBe(0);
  }, 180_000);

  afterAll(() => local.stopAll());

  it('replicates over TLS, verifying the primary against the CA', async () => {
    await until(() => /Slave_IO_Running: Yes/.test(replicaStatus()));
    const status = replicaStatus();
    expect(status).toMatch(/Slave_IO_Running: Yes/);
    expect(status).toMatch(/Master_SSL_Allowed: Yes/);
    expect(status).toMatch(/Master_SSL_CA_File: .*ca\.pem/);
    expect(status).toMatch(/Master_SSL_Verify_Server_Cert: Yes/);
    const w = app(PRIMARY_PORT, "INSERT INTO app.t VALUES (1, 'x')", verified());
    expect(w.status, w.stderr).toBe(0);
    let seen = '';
    await until(() => (seen = root(replicaDir, 'SELECT v FROM app.t WHERE id = 1').stdout.trim().split('\n').pop() ?? '') === 'x');
    expect(seen).toBe('x');
  });

  it('refuses the app user without TLS, and serves it with a verified TLS connection', () => {
    const plain = app(PRIMARY_PORT, 'SELECT 1', ['--skip-ssl']);
    expect(plain.status).not.toBe(0);
    expect(plain.stderr).toMatch(/Access denied/); // REQUIRE SSL
    // require_secure_transport: even root (no REQUIRE SSL) is refused over TCP without TLS only.
    // (MariaDB reports this refusal as Access denied too.)
    const rootTcp = (tlsArgs: string[]) => run('mariadb', ['--protocol=tcp', '-h127.0.0.1', `-P${PRIMARY_PORT}`, '-uroot', `-p${passwords.ROOT_PASSWORD}`, ...tlsArgs, '-e', 'SELECT 1']);
    expect(rootTcp(['--skip-ssl']).stderr).toMatch(/Access denied/);
    expect(rootTcp(verified()).status).toBe(0);
    const secure = app(PRIMARY_PORT, "SHOW STATUS LIKE 'Ssl_cipher'", verified());
    expect(secure.status, secure.stderr).toBe(0);
    expect(secure.stdout).toMatch(/^Ssl_cipher\t\S+/);
    expect(app(REPLICA_PORT, 'SELECT @@server_id', verified()).stdout.trim()).toBe('2');
  });

  it('creates the accounts with REQUIRE SSL', () => {
    for (const user of ['app', 'repl', 'dws_failover']) {
      expect(root(primaryDir, `SHOW GRANTS FOR '${user}'@'localhost'`).stdout).toMatch(/REQUIRE SSL/);
    }
  });

  it('fails verification against a CA that did not sign the server certificate', () => {
    const wrong = app(PRIMARY_PORT, 'SELECT 1', [`--ssl-ca=${tls.otherCa}`, '--ssl-verify-server-cert']);
    expect(wrong.status).not.toBe(0);
    expect(wrong.stderr).toMatch(/SSL|certificate|TLS/i);
  });

  it('stops replicating when the replica cannot verify the primary', async () => {
    expect(root(replicaDir, `STOP REPLICA; CHANGE MASTER TO MASTER_SSL_CA='${tls.otherCa}'; START REPLICA;`).status).toBe(0);
    try {
      await until(() => /Last_IO_Error: \S/.test(replicaStatus()));
      const status = replicaStatus();
      expect(status).not.toMatch(/Slave_IO_Running: Yes/);
      expect(status).toMatch(/Last_IO_Error: .*(SSL|certificate|TLS)/i);
    } finally {
      root(replicaDir, `STOP REPLICA; CHANGE MASTER TO MASTER_SSL_CA='${tls.ca}'; START REPLICA;`);
    }
    await until(() => /Slave_IO_Running: Yes/.test(replicaStatus()));
    expect(replicaStatus()).toMatch(/Slave_IO_Running: Yes/);
  });

  it('keeps the container healthcheck working: an anonymous ping without TLS is answered', () => {
    const [, cmd, ...args] = dbHealthcheckCommand('mariadb', PRIMARY_PORT, true);
    expect(args).toContain('--skip-ssl');
    const r = run(cmd, args);
    expect(r.status, r.stderr + r.stdout).toBe(0);
  });
});
