// Replication lag from a heartbeat, run inside an app container (node and mysql2 are there),
// through the database router as the app does: the writer endpoint (PRIMARY, port 3306) gets one
// INSERT of NOW(6) every 1000/RATE ms; a reader polls the reader endpoint (REPLICA, port 3307, which
// routes to the replica) without pause and, for each heartbeat row it sees first, records
// the replica's NOW(6) minus the primary's timestamp (one kernel clock: same host).
// Env: PRIMARY, REPLICA, PASSWORD, RATE (writes/s), SECONDS (per run), RUNS. Prints one JSON line per run.
const mysql = require('/app/node_modules/mysql2/promise');
const env = process.env;
const rate = Number(env.RATE);
const seconds = Number(env.SECONDS);
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const pct = (s, p) => s[Math.min(s.length - 1, Math.max(0, Math.ceil((p / 100) * s.length) - 1))];

async function run(w, r) {
  await w.query('CREATE TABLE IF NOT EXISTS bench_heartbeat (id INT PRIMARY KEY, ts TIMESTAMP(6) NOT NULL)');
  await w.query('DELETE FROM bench_heartbeat');
  // Start when the replica has the (empty) table too; bounded: 500 tries, 10 ms apart.
  for (let i = 0; i < 500; i++) {
    const n = await r.query('SELECT COUNT(*) AS n FROM bench_heartbeat').then(([[row]]) => Number(row.n), () => -1);
    if (n === 0) break;
    await sleep(10);
  }
  const total = Math.round(rate * seconds);
  const lags = [];
  const polls = [];
  let seen = 0;
  let writeErrors = 0;
  let late = 0;
  let writing = true;
  const writer = (async () => {
    const t0 = performance.now();
    for (let i = 1; i <= total; i++) {
      const due = t0 + (i - 1) * (1000 / rate);
      const wait = due - performance.now();
      if (wait > 0) await sleep(wait);
      else if (wait < -1000 / rate) late++;
      await w.query('INSERT INTO bench_heartbeat VALUES (?, NOW(6))', [i]).catch(() => writeErrors++);
    }
    writing = false;
    return (performance.now() - t0) / 1000;
  })();
  const deadline = Date.now() + (seconds + 10) * 1000;
  while ((writing || seen < total - writeErrors) && Date.now() < deadline) {
    const p0 = performance.now();
    const [rows] = await r.query('SELECT id, TIMESTAMPDIFF(MICROSECOND, ts, NOW(6)) AS lag_us FROM bench_heartbeat WHERE id > ? ORDER BY id', [seen]);
    polls.push(performance.now() - p0);
    for (const row of rows) {
      lags.push(Number(row.lag_us));
      seen = row.id;
    }
    await sleep(1);
  }
  const elapsed = await writer;
  lags.sort((a, b) => a - b);
  polls.sort((a, b) => a - b);
  return { writes: total, writeErrors, late, achievedRate: total / elapsed, seenOnReplica: lags.length, lagUsP50: pct(lags, 50), lagUsP99: pct(lags, 99), lagUsMax: lags[lags.length - 1], pollMsP50: pct(polls, 50) + 1 };
}

(async () => {
  const conn = (host, port) => mysql.createConnection({ host, port, user: 'app', password: env.PASSWORD, database: 'app', connectTimeout: 5000 });
  const w = await conn(env.PRIMARY, 3306);
  const r = await conn(env.REPLICA, 3307);
  for (let i = 0; i < Number(env.RUNS); i++) console.log(JSON.stringify(await run(w, r)));
  await w.query('DROP TABLE bench_heartbeat');
  await w.end();
  await r.end();
})().catch((e) => {
  console.error(e);
  process.exit(1);
});
