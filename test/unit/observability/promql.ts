/**
 * A small PromQL tokenizer for tests: finds the vector selectors of an expression (metric name and label matchers),
 * skipping functions, aggregations, keywords, grouping label lists, strings, durations and numbers. Not a parser: it
 * answers "which series does this expression read", which is what the dashboard and alert tests check.
 */

export interface Matcher {
  label: string;
  op: '=' | '!=' | '=~' | '!~';
  value: string;
}

export interface Selector {
  metric: string;
  matchers: Matcher[];
}

/** Keywords followed by a parenthesised list of label names (not metrics). */
const GROUPING = new Set(['by', 'without', 'on', 'ignoring', 'group_left', 'group_right']);
const KEYWORDS = new Set(['and', 'or', 'unless', 'offset', 'bool', 'inf', 'nan', 'start', 'end']);
/** Aggregation operators may put `by (...)` between their name and their `(`. */
const AGGREGATIONS = new Set(['sum', 'min', 'max', 'avg', 'group', 'stddev', 'stdvar', 'count', 'count_values', 'bottomk', 'topk', 'quantile', 'limitk', 'limit_ratio']);
const IDENT_START = /[A-Za-z_:]/;
const IDENT = /[A-Za-z0-9_:]/;
const SPACE = /\s/;

/** Grafana's variables, replaced by something PromQL accepts where they may stand. */
export function expandGrafanaVariables(expr: string): string {
  return expr.replace(/\$__(rate_)?interval|\$__range/g, '5m').replace(/\$\{[^}]*\}|\$[A-Za-z_]\w*/g, 'x');
}

function readString(s: string, i: number): { value: string; end: number } {
  const quote = s[i]!;
  let value = '';
  let j = i + 1;
  while (j < s.length && s[j] !== quote) {
    if (s[j] === '\\' && quote !== '`') {
      value += s[j + 1] ?? '';
      j += 2;
    } else {
      value += s[j];
      j += 1;
    }
  }
  if (j >= s.length) throw new Error(`unterminated string at ${i} in ${s}`);
  return { value, end: j + 1 };
}

function skipSpace(s: string, i: number): number {
  while (i < s.length && SPACE.test(s[i]!)) i += 1;
  return i;
}

function readIdent(s: string, i: number): { ident: string; end: number } {
  let j = i;
  while (j < s.length && IDENT.test(s[j]!)) j += 1;
  return { ident: s.slice(i, j), end: j };
}

/** Parses `{a="x", b=~"y|z"}` starting at the `{`. */
function readMatchers(s: string, i: number): { matchers: Matcher[]; end: number } {
  const matchers: Matcher[] = [];
  let j = skipSpace(s, i + 1);
  while (j < s.length && s[j] !== '}') {
    const { ident: label, end } = readIdent(s, j);
    if (!label) throw new Error(`expected a label name at ${j} in ${s}`);
    j = skipSpace(s, end);
    const op = ['=~', '!~', '!=', '='].find((o) => s.startsWith(o, j)) as Matcher['op'] | undefined;
    if (!op) throw new Error(`expected a matcher operator at ${j} in ${s}`);
    j = skipSpace(s, j + op.length);
    if (!`"'\``.includes(s[j] ?? '')) throw new Error(`expected a quoted label value at ${j} in ${s}`);
    const str = readString(s, j);
    matchers.push({ label, op, value: str.value });
    j = skipSpace(s, str.end);
    if (s[j] === ',') j = skipSpace(s, j + 1);
  }
  if (s[j] !== '}') throw new Error(`unterminated label matchers at ${i} in ${s}`);
  return { matchers, end: j + 1 };
}

/** Checks that (), [] and {} nest, outside strings: a cheap guard against broken expressions. */
export function checkBrackets(expr: string): void {
  const open: string[] = [];
  const pairs: Record<string, string> = { ')': '(', ']': '[', '}': '{' };
  for (let i = 0; i < expr.length; ) {
    const c = expr[i]!;
    if (c === '"' || c === "'" || c === '`') {
      i = readString(expr, i).end;
      continue;
    }
    if ('([{'.includes(c)) open.push(c);
    else if (c in pairs && open.pop() !== pairs[c]) throw new Error(`unbalanced '${c}' at ${i} in ${expr}`);
    i += 1;
  }
  if (open.length > 0) throw new Error(`unclosed '${open.join('')}' in ${expr}`);
}

/** The vector selectors of a PromQL expression, in order of appearance. */
export function selectors(expr: string): Selector[] {
  const s = expandGrafanaVariables(expr);
  checkBrackets(s);
  const out: Selector[] = [];
  let last: Selector | undefined; // the selector a following `{...}` belongs to
  for (let i = 0; i < s.length; ) {
    const c = s[i]!;
    if (SPACE.test(c)) {
      i += 1;
      continue;
    }
    if (c === '"' || c === "'" || c === '`') {
      i = readString(s, i).end;
      last = undefined;
      continue;
    }
    if (c === '{') {
      const { matchers, end } = readMatchers(s, i);
      if (last) last.matchers.push(...matchers);
      else {
        // `{__name__="m", ...}` selects by name without the name in front.
        const name = matchers.find((m) => m.label === '__name__' && m.op === '=');
        if (!name) throw new Error(`a selector without a metric name at ${i} in ${expr}`);
        out.push({ metric: name.value, matchers: matchers.filter((m) => m !== name) });
      }
      last = undefined;
      i = end;
      continue;
    }
    if (c === '[') {
      i = s.indexOf(']', i) + 1;
      last = undefined;
      continue;
    }
    if (/[0-9.]/.test(c)) {
      // A number or a duration (5m, 1h30m, 1e3, 0x1f).
      while (i < s.length && /[0-9A-Za-z_.]/.test(s[i]!)) i += 1;
      last = undefined;
      continue;
    }
    if (IDENT_START.test(c)) {
      const { ident, end } = readIdent(s, i);
      const next = skipSpace(s, end);
      last = undefined;
      if (GROUPING.has(ident)) {
        i = s[next] === '(' ? s.indexOf(')', next) + 1 : end;
        continue;
      }
      if (KEYWORDS.has(ident.toLowerCase()) || AGGREGATIONS.has(ident) || s[next] === '(') {
        i = end;
        continue;
      }
      last = { metric: ident, matchers: [] };
      out.push(last);
      i = end;
      continue;
    }
    last = undefined;
    i += 1;
  }
  return out;
}

/** The metric names an expression reads. */
export function metricNames(expr: string): string[] {
  return [...new Set(selectors(expr).map((sel) => sel.metric))];
}
