// Pure statistics for the benchmarks: no I/O, unit-tested in test/bench-stats.test.ts.

/** The value below which `p` percent of the sorted values lie (linear interpolation between ranks). */
export function percentile(values: readonly number[], p: number): number {
  if (values.length === 0) throw new Error('percentile of no values');
  if (!(p >= 0 && p <= 100)) throw new Error(`percentile must be between 0 and 100 (got ${p})`);
  const s = [...values].sort((a, b) => a - b);
  const rank = (p / 100) * (s.length - 1);
  const lo = Math.floor(rank);
  const hi = Math.ceil(rank);
  return s[lo] + (s[hi] - s[lo]) * (rank - lo);
}

export const median = (values: readonly number[]): number => percentile(values, 50);

/** Per-run ratios a[i] / b[i] (each pair measured in the same run). */
export function ratios(a: readonly number[], b: readonly number[]): number[] {
  if (a.length !== b.length) throw new Error(`ratios of ${a.length} and ${b.length} values`);
  return a.map((x, i) => x / b[i]);
}

/** Per-run differences a[i] - b[i]. */
export function differences(a: readonly number[], b: readonly number[]): number[] {
  if (a.length !== b.length) throw new Error(`differences of ${a.length} and ${b.length} values`);
  return a.map((x, i) => x - b[i]);
}

/** "1.23 (1.10–1.40)": a median and the range of the runs. */
export function summary(values: readonly number[], digits = 2): string {
  const f = (v: number) => v.toFixed(digits);
  return `${f(median(values))} (${f(Math.min(...values))}–${f(Math.max(...values))})`;
}

/** wrk's latency figures ("812.00us", "1.20ms", "2.01s") in microseconds. */
export function parseWrkDuration(text: string): number {
  const m = /^([\d.]+)(us|ms|s|m|h)$/.exec(text.trim());
  if (!m) throw new Error(`not a wrk duration: ${text}`);
  const unit = { us: 1, ms: 1e3, s: 1e6, m: 60e6, h: 3600e6 }[m[2] as 'us' | 'ms' | 's' | 'm' | 'h'];
  return Number(m[1]) * unit;
}
