/**
 * The alerts and the dashboard checked by Prometheus's own promtool (built from its Go module, see
 * test/support/tools.ts): `check rules` parses and type-checks every expression as Prometheus will, `test rules` runs
 * the unit tests in promtool/alerts.test.yaml against the shipped rule file, and `check metrics` lints what the
 * operator exports. The hand-written tokenizer in promql.ts still answers which series an expression reads.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Registry } from 'prom-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse, stringify } from 'yaml';
import { createHsmMetrics } from '../../../src/observability/hsm-metrics.js';
import { FakeClock, RuntimeMetrics, WorkQueue } from '../../../src/runtime/index.js';
import { ensurePromtool, run } from '../../support/tools.js';
import { expandGrafanaVariables } from './promql.js';

const here = dirname(fileURLToPath(import.meta.url));
const root = resolve(here, '../../..');
const rulesFile = join(root, 'charts/hsm-operator/files/prometheus-rules.yaml');
const unitTests = join(here, 'promtool/alerts.test.yaml');

let promtool = '';
let scratch = '';
beforeAll(async () => {
  promtool = await ensurePromtool();
  scratch = mkdtempSync(join(tmpdir(), 'promtool-'));
}, 900_000);
afterAll(() => {
  if (scratch) rmSync(scratch, { recursive: true, force: true });
});

/** Runs promtool; resolves with its output, or rejects with it when promtool exits non-zero. */
function promtoolRun(args: string[], input?: string): string {
  return run(promtool, args, input);
}

function writeRules(name: string, rules: { record?: string; alert?: string; expr: string }[]): string {
  const file = join(scratch, name);
  writeFileSync(file, stringify({ groups: [{ name, rules }] }));
  return file;
}

describe('promtool', () => {
  it('finds the shipped rules valid: every expression parses and type-checks, no duplicates', () => {
    const alerts = (parse(readFileSync(rulesFile, 'utf8')) as { groups: { rules: unknown[] }[] }).groups.flatMap((g) => g.rules).length;
    const out = promtoolRun(['check', 'rules', '--lint=all', '--lint-fatal', rulesFile]);
    expect(out).toContain(`SUCCESS: ${alerts} rules found`);
  });

  it('rejects what the hand-written tokenizer lets through: a type error and a bad template', () => {
    // Balanced brackets and exported metric names, yet Prometheus refuses both.
    const typeError = writeRules('type-error.yaml', [{ alert: 'Bad', expr: 'rate(workqueue_depth)' }]);
    expect(() => promtoolRun(['check', 'rules', typeError])).toThrow(/expected type range vector/);
    const file = join(scratch, 'bad-template.yaml');
    writeFileSync(file, stringify({ groups: [{ name: 'g', rules: [{ alert: 'Bad', expr: 'up == 0', annotations: { summary: '{{ $labels.job ' } }] }] }));
    expect(() => promtoolRun(['check', 'rules', file])).toThrow(/template/);
  });

  it('passes the alert unit tests (promtool/alerts.test.yaml)', () => {
    const out = promtoolRun(['test', 'rules', unitTests]);
    expect(out).toContain('SUCCESS');
  });

  it('fails an alert unit test whose expectation the rules do not meet', () => {
    const tests = parse(readFileSync(unitTests, 'utf8')) as { rule_files: string[]; tests: { alert_rule_test: { exp_alerts: unknown[] }[] }[] };
    tests.rule_files = [rulesFile];
    tests.tests[0]!.alert_rule_test[0]!.exp_alerts = tests.tests[0]!.alert_rule_test[1]!.exp_alerts; // fire 10 minutes early
    const file = join(scratch, 'wrong.test.yaml');
    writeFileSync(file, stringify(tests));
    expect(() => promtoolRun(['test', 'rules', file])).toThrow(/FAILED/);
  });

  it('parses every dashboard query (Grafana variables filled in)', () => {
    const dashboard = JSON.parse(readFileSync(join(root, 'charts/hsm-operator/files/grafana-dashboard.json'), 'utf8')) as {
      panels: { id: number; targets?: { expr: string; refId: string }[] }[];
      templating: { list: { name: string; type: string; query: string | { query: string } }[] };
    };
    const rules = dashboard.panels.flatMap((p) => (p.targets ?? []).map((t) => ({ record: `dashboard:panel_${p.id}_${t.refId}`, expr: expandGrafanaVariables(t.expr) })));
    for (const v of dashboard.templating.list.filter((t) => t.type === 'query')) {
      const query = typeof v.query === 'string' ? v.query : v.query.query;
      rules.push({ record: `dashboard:variable_${v.name}`, expr: expandGrafanaVariables(/^label_values\((.+),\s*\w+\)$/.exec(query)?.[1] ?? query) });
    }
    expect(rules.length).toBeGreaterThan(20);
    expect(promtoolRun(['check', 'rules', writeRules('dashboard.yaml', rules)])).toContain(`SUCCESS: ${rules.length} rules found`);
  });

  it('finds nothing to lint in what the operator exports', async () => {
    const registry = new Registry();
    const metrics = new RuntimeMetrics({ registry });
    createHsmMetrics(registry);
    metrics.initController('DedicatedHsm', 2);
    const queue = new WorkQueue({ name: 'DedicatedHsm', clock: new FakeClock(), metrics });
    queue.add('ns/a');
    await queue.get();
    metrics.restRequests.inc({ code: '200', method: 'GET', host: 'apiserver:6443' });
    metrics.leaderElectionMasterStatus.set({ name: 'hsm-operator-leader' }, 1);
    const exposition = await registry.metrics();
    expect(exposition).toContain('workqueue_longest_running_processor_seconds{name="DedicatedHsm",controller="DedicatedHsm"} 0');
    expect(promtoolRun(['check', 'metrics'], exposition)).toBe('');
  });
});
