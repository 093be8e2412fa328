import { resolve } from 'node:path';
import { toYaml } from './prometheus';

/**
 * The Grafana dashboards shipped in assets/dashboards: one per component, each querying the
 * provisioned Prometheus datasource (uid "prometheus").
 */
export const DASHBOARD_FILES: readonly string[] = ['haproxy.json', 'nginx.json', 'mysql.json', 'host.json'];

/** The datasource uid every dashboard refers to. */
export const GRAFANA_DATASOURCE_UID = 'prometheus';

/**
 * Absolute path of assets/dashboards: this file is src/monitoring/render/grafana.ts when run from
 * source and lib/monitoring/render/grafana.js in the package, both three levels below the root.
 */
export function dashboardsDir(): string {
  return resolve(__dirname, '..', '..', '..', 'assets', 'dashboards');
}

/** Grafana's datasource provisioning file: Prometheus at prometheusUrl, the default datasource. */
export function renderGrafanaDatasource(prometheusUrl: string): string {
  return toYaml({
    apiVersion: 1,
    datasources: [
      {
        name: 'Prometheus',
        uid: GRAFANA_DATASOURCE_UID,
        type: 'prometheus',
        access: 'proxy',
        url: prometheusUrl,
        isDefault: true,
        editable: false,
      },
    ],
  });
}

/** Grafana's dashboard provisioning file: the dashboards are the JSON files in `path`, read-only. */
export function renderGrafanaDashboardProvider(path: string): string {
  return toYaml({
    apiVersion: 1,
    providers: [
      {
        name: 'dws',
        orgId: 1,
        folder: 'DWS',
        type: 'file',
        disableDeletion: true,
        allowUiUpdates: false,
        updateIntervalSeconds: 60,
        options: { path, foldersFromFilesStructure: false },
      },
    ],
  });
}

interface DashboardPanel {
  readonly targets?: readonly { readonly expr?: unknown }[];
  readonly panels?: readonly DashboardPanel[];
}

/** Every PromQL expression of a dashboard's panels, rows' panels included, in order. */
export function dashboardQueries(dashboardJson: string): string[] {
  const d = JSON.parse(dashboardJson) as { panels?: DashboardPanel[]; rows?: DashboardPanel[] };
  const out: string[] = [];
  const walk = (panels: readonly DashboardPanel[] | undefined) => {
    for (const p of panels ?? []) {
      for (const t of p.targets ?? []) {
        if (typeof t.expr === 'string' && t.expr.trim()) out.push(t.expr);
      }
      walk(p.panels);
    }
  };
  walk(d.panels);
  walk(d.rows); // the pre-5.0 layout
  return out;
}

/**
 * The expression with Grafana's variables replaced, for Prometheus or promtool: interval variables
 * by `interval`, any other `$var` / `${var}` / `[[var]]` by `.*` (they only appear in regex matchers here).
 */
export function expandGrafanaVariables(expr: string, interval = '5m'): string {
  return expr
    .replace(/\$__(rate_interval|interval|range)\b|\$\{__(rate_interval|interval|range)\}/g, interval)
    .replace(/\$\{\w+(:\w+)?\}|\$\w+|\[\[\w+\]\]/g, '.*');
}

// Aggregations: written before a `by`/`without` clause, so not always followed by `(`.
const AGGREGATIONS = new Set([
  'sum', 'avg', 'min', 'max', 'count', 'group', 'stddev', 'stdvar', 'topk', 'bottomk',
  'quantile', 'count_values', 'limitk', 'limit_ratio',
]);
// Clauses followed by a list of label names (group_left/right optionally).
const LABEL_LIST_CLAUSES = new Set(['by', 'without', 'on', 'ignoring', 'group_left', 'group_right']);
// Binary operators written as words, other than or.
const WORD_OPERATORS = new Set(['and', 'unless', 'atan2']);
const SKIPPED_WORDS = new Set(['bool', 'offset', 'inf', 'nan']);

type Token = { kind: 'metric'; name: string } | { kind: 'or' | 'op' | '(' | ')' | ',' };

function tokenize(expr: string): Token[] {
  const tokens: Token[] = [];
  const n = expr.length;
  let i = 0;
  const skipSpace = () => {
    while (i < n && /\s/.test(expr[i])) i++;
  };
  // Index after the bracket that closes the one at `from`, skipping string literals.
  const closing = (from: number, open: string, close: string): number => {
    let depth = 0;
    for (let j = from; j < n; j++) {
      const c = expr[j];
      if (c === '"' || c === "'" || c === '`') j = endOfString(j) - 1;
      else if (c === open) depth++;
      else if (c === close && --depth === 0) return j + 1;
    }
    throw new Error(`unbalanced ${open} in PromQL: ${expr}`);
  };
  const endOfString = (from: number): number => {
    const quote = expr[from];
    for (let j = from + 1; j < n; j++) {
      if (quote !== '`' && expr[j] === '\\') j++;
      else if (expr[j] === quote) return j + 1;
    }
    throw new Error(`unterminated string in PromQL: ${expr}`);
  };
  while (i < n) {
    const c = expr[i];
    if (/\s/.test(c)) {
      i++;
    } else if (c === '#') {
      while (i < n && expr[i] !== '\n') i++;
    } else if (c === '"' || c === "'" || c === '`') {
      i = endOfString(i);
    } else if (c === '{') {
      // A selector without a metric before it: only {__name__="x"} names one.
      const end = closing(i, '{', '}');
      const m = /(?:^|[{,\s])__name__\s*=\s*(["'`])([A-Za-z_:][\w:]*)\1/.exec(expr.slice(i, end));
      if (m) tokens.push({ kind: 'metric', name: m[2] });
      i = end;
    } else if (c === '[') {
      i = closing(i, '[', ']'); // range or subquery: durations and Grafana interval variables
    } else if (c === '$') {
      // A Grafana variable outside a string, e.g. topk($n, ...): a value, not a metric.
      const m = /^\$(\{[^}]*\}|\w+)/.exec(expr.slice(i));
      i += m ? m[0].length : 1;
    } else if (/\d/.test(c) || (c === '.' && /\d/.test(expr[i + 1] ?? ''))) {
      while (i < n && /[\w.]/.test(expr[i])) i++; // number, hex number or duration
    } else if (/[A-Za-z_:]/.test(c)) {
      const start = i;
      while (i < n && /[\w:]/.test(expr[i])) i++;
      const word = expr.slice(start, i);
      const lower = word.toLowerCase();
      skipSpace();
      if (lower === 'or') tokens.push({ kind: 'or' });
      else if (WORD_OPERATORS.has(lower)) tokens.push({ kind: 'op' });
      else if (LABEL_LIST_CLAUSES.has(lower)) {
        if (expr[i] === '(') i = closing(i, '(', ')');
      } else if (SKIPPED_WORDS.has(lower) || AGGREGATIONS.has(lower)) {
        // a modifier, a special float, or an aggregation (its arguments follow)
      } else if (expr[i] === '(') {
        // a function: its arguments follow
      } else {
        tokens.push({ kind: 'metric', name: word });
        if (expr[i] === '{') i = closing(i, '{', '}'); // label matchers
      }
    } else if (c === '(' || c === ')' || c === ',') {
      tokens.push({ kind: c as '(' | ')' | ',' });
      i++;
    } else if ('=!<>'.includes(c)) {
      while (i < n && '=!<>'.includes(expr[i])) i++; // ==, !=, <, <=, >, >=
      tokens.push({ kind: 'op' });
    } else if ('+-*/%^@'.includes(c)) {
      // Arithmetic, or a sign; '@' (with its timestamp, start() or end()) reads as one too.
      i++;
      tokens.push({ kind: 'op' });
    } else {
      throw new Error(`unexpected ${JSON.stringify(c)} in PromQL: ${expr}`);
    }
  }
  return tokens;
}

/**
 * A requirement in conjunctive normal form: every group must be satisfied, a group by any one of
 * its metrics. [] needs nothing (a number, vector(0), ...).
 */
type Cnf = string[][];

const both = (a: Cnf, b: Cnf): Cnf => [...a, ...b];
const either = (a: Cnf, b: Cnf): Cnf => (a.length === 0 || b.length === 0 ? [] : a.flatMap((x) => b.map((y) => [...x, ...y])));

/**
 * The metric names a PromQL expression needs, as groups of alternatives: every group must have one
 * of its metrics exposed. `a or b` gives [[a, b]]; `rate(x[5m]) / rate(y[5m])` gives [[x], [y]];
 * `(a or b) and on (instance) c` gives [[a, b], [c]]. Only `or` makes alternatives: both sides of
 * every other binary operator (and, unless, arithmetic, comparisons) and every function argument
 * are needed. Function and aggregation names, label names in matchers and in by/on/... lists,
 * strings, numbers, durations and Grafana variables are not metrics.
 */
export function requiredMetricGroups(expr: string): string[][] {
  const tokens = tokenize(expr);
  let pos = 0;
  const peek = () => tokens[pos];
  // One precedence level: operands joined by operators of one kind, folded left.
  const level = (kind: 'or' | 'op', next: () => Cnf, join: (a: Cnf, b: Cnf) => Cnf) => (): Cnf => {
    let cnf = next();
    while (peek()?.kind === kind) {
      pos++;
      cnf = join(cnf, next());
    }
    return cnf;
  };
  // or: the lowest precedence; everything else binds tighter and means "both".
  const andExpr: () => Cnf = level('op', () => operand(), both);
  const orExpr: () => Cnf = level('or', andExpr, either);
  // A metric, a parenthesised list (a group or a call's arguments), or nothing (a number, which
  // the tokenizer dropped, or a unary sign).
  const operand = (): Cnf => {
    const t = peek();
    if (t?.kind === 'metric') {
      pos++;
      return [[t.name]];
    }
    if (t?.kind !== '(') return [];
    pos++;
    let cnf = orExpr();
    while (peek()?.kind === ',') {
      pos++;
      cnf = both(cnf, orExpr());
    }
    if (peek()?.kind !== ')') throw new Error(`cannot read PromQL: ${expr}`);
    pos++;
    return cnf;
  };
  const cnf = orExpr();
  if (pos !== tokens.length) throw new Error(`cannot read PromQL: ${expr}`);
  return simplify(cnf);
}

// Each group without repeats; a group that contains another is implied by it, so it goes.
function simplify(cnf: Cnf): string[][] {
  const groups = cnf.map((g) => [...new Set(g)]);
  return groups.filter((g, i) =>
    !groups.some((h, j) => j !== i && h.every((m) => g.includes(m)) && (h.length < g.length || j < i)),
  );
}
