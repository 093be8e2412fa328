'use strict';
// Demo app for cdktf-distributed-web-stack. Configuration comes from the environment that
// AppServerPair sets: PORT, SERVER_NAME, DB_WRITE_HOST, DB_READ_HOST, DB_PORT, DB_READ_PORT, DB_NAME,
// DB_USER, DB_PASSWORD_FILE, and DB_TLS_CA_FILE when the database requires TLS.
// GET /whoami echoes the request as the app got it; /ws is a websocket that echoes each message;
// POST /upload counts the body's bytes; POST /orders records one order per request.
const http = require('node:http');
const fs = require('node:fs');
const os = require('node:os');
const mysql = require('mysql2/promise');
const { WebSocketServer } = require('ws');

const env = process.env;
const port = Number(env.PORT || 3000);
const serverName = env.SERVER_NAME || os.hostname();
const version = env.APP_VERSION || '1';
// mysql2 checks the chain against `ca`, but the server's name only with verifyIdentity.
const ssl = env.DB_TLS_CA_FILE ? { ca: fs.readFileSync(env.DB_TLS_CA_FILE, 'utf8'), verifyIdentity: true } : undefined;

function pool(host, port) {
  if (!host) return undefined;
  return mysql.createPool({
    host,
    port: Number(port || 3306),
    user: env.DB_USER,
    password: env.DB_PASSWORD_FILE ? fs.readFileSync(env.DB_PASSWORD_FILE, 'utf8').trim() : env.DB_PASSWORD,
    database: env.DB_NAME,
    ssl,
    connectionLimit: 5,
    connectTimeout: 5000,
  });
}
const writer = pool(env.DB_WRITE_HOST, env.DB_PORT);
const reader = pool(env.DB_READ_HOST, env.DB_READ_PORT || env.DB_PORT);

let schemaReady;
function ensureSchema() {
  schemaReady ??= Promise.all([
    writer.query('CREATE TABLE IF NOT EXISTS visits (id BIGINT AUTO_INCREMENT PRIMARY KEY, server VARCHAR(64) NOT NULL, created_at TIMESTAMP(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6))'),
    // No unique key on the client's key: a request the stack delivered twice would show as two rows.
    writer.query('CREATE TABLE IF NOT EXISTS orders (id BIGINT AUTO_INCREMENT PRIMARY KEY, client_key VARCHAR(64) NOT NULL, server VARCHAR(64) NOT NULL, KEY (client_key))'),
  ])
    .catch((e) => {
      schemaReady = undefined;
      throw e;
    });
  return schemaReady;
}

function send(res, status, body) {
  const text = typeof body === 'string' ? body : JSON.stringify(body) + '\n';
  res.writeHead(status, {
    'content-type': typeof body === 'string' ? 'text/plain; charset=utf-8' : 'application/json',
    'x-app-server': serverName,
    'cache-control': 'no-store',
  });
  res.end(text);
}

async function readVisit(id) {
  const [rows] = await reader.query('SELECT id, server FROM visits WHERE id = ?', [id]);
  return rows[0];
}

/** The whole request body (bounded by Nginx's client_max_body_size), as a Buffer. */
function body(req) {
  return new Promise((done, fail) => {
    const chunks = [];
    req.on('data', (d) => chunks.push(d));
    req.on('end', () => done(Buffer.concat(chunks)));
    req.on('error', fail);
  });
}

async function route(req, res) {
  const url = new URL(req.url, 'http://localhost');
  if (url.pathname === '/healthz') return send(res, 200, 'ok\n');
  if (url.pathname === '/whoami') {
    return send(res, 200, { server: serverName, method: req.method, url: req.url, peer: req.socket.remoteAddress, headers: req.headers });
  }
  if (url.pathname === '/upload' && req.method === 'POST') return send(res, 200, { server: serverName, bytes: (await body(req)).length });
  if (url.pathname === '/' && req.method === 'GET') {
    return send(res, 200, { server: serverName, hostname: os.hostname(), version });
  }
  if (!writer || !reader) return send(res, 503, { error: 'no database configured' });
  // Writes one row on the primary, then reads it back through the replica (waits up to 1 s).
  if (url.pathname === '/visits' && req.method === 'POST') {
    await ensureSchema();
    const [result] = await writer.query('INSERT INTO visits (server) VALUES (?)', [serverName]);
    const id = result.insertId;
    const started = Date.now();
    let row;
    while (!(row = await readVisit(id)) && Date.now() - started < 1000) await new Promise((r) => setTimeout(r, 20));
    return send(res, row ? 201 : 504, { id, server: serverName, replicatedWithinMs: row ? Date.now() - started : null });
  }
  if (url.pathname === '/orders' && req.method === 'POST') {
    const { key } = JSON.parse((await body(req)).toString('utf8') || '{}');
    if (typeof key !== 'string' || !/^[\w-]{1,64}$/.test(key)) return send(res, 400, { error: 'key must be 1-64 letters, digits, _ or -' });
    await ensureSchema();
    await writer.query('INSERT INTO orders (client_key, server) VALUES (?, ?)', [key, serverName]);
    return send(res, 201, { key, server: serverName });
  }
  const match = /^\/visits\/(\d+)$/.exec(url.pathname);
  if (match && req.method === 'GET') {
    const row = await readVisit(Number(match[1]));
    return row ? send(res, 200, { ...row, readFrom: env.DB_READ_HOST }) : send(res, 404, { error: 'not found on the replica' });
  }
  return send(res, 404, { error: 'not found' });
}

const server = http.createServer((req, res) => {
  route(req, res).catch((e) => send(res, 500, { error: e.code || e.message }));
});
server.keepAliveTimeout = 75_000; // longer than Nginx's, so Nginx closes first
// Every message on /ws comes back as it was sent.
const sockets = new WebSocketServer({ server, path: '/ws' });
sockets.on('connection', (ws) => ws.on('message', (data, isBinary) => ws.send(data, { binary: isBinary })));
server.listen(port, () => console.log(`${serverName} listening on :${port}`));

// Finish in-flight requests on SIGTERM (docker stop), then close the pools.
process.on('SIGTERM', () => {
  server.close(() => Promise.allSettled([writer?.end(), reader?.end()]).then(() => process.exit(0)));
  setTimeout(() => process.exit(0), 10_000).unref();
});
