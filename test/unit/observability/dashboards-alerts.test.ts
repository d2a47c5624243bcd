import { readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { GUARD_ROLES } from '../../../src/luna/guard.js';
import {
  DEPLOYMENT_ATTEMPT_CLASSES,
  NTLS_DRIFT_KINDS,
  PROVISIONING_STATES,
  RECOVERY_OUTCOMES,
  REPUSH_OUTCOMES,
  RESOURCE_KINDS,
  createHsmMetrics,
} from '../../../src/observability/hsm-metrics.js';
import { RuntimeMetrics } from '../../../src/runtime/metrics.js';
import { checkBrackets, metricNames, selectors, type Selector } from './promql.js';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '../../..');
const files = join(root, 'charts/hsm-operator/files');

/** Labels Prometheus adds to every scraped series (target labels). */
const TARGET_LABELS = ['job', 'instance', 'namespace', 'pod', 'service', 'endpoint', 'container'];

/** Every series name the operator exports, with the labels each carries: runtime and HSM metrics in one registry. */
function exportedSeries(): Map<string, Set<string>> {
  const registry = new Registry();
  new RuntimeMetrics({ registry, processMetrics: true });
  createHsmMetrics(registry);
  const series = new Map<string, Set<string>>();
  for (const metric of registry.getMetricsAsArray()) {
    const { name, labelNames = [] } = metric as unknown as { name: string; labelNames?: string[] };
    const type = (metric as unknown as { type: string }).type;
    const labels = new Set([...labelNames, ...TARGET_LABELS]);
    if (type === 'histogram') {
      series.set(`${name}_bucket`, new Set([...labels, 'le']));
      series.set(`${name}_sum`, labels);
      series.set(`${name}_count`, labels);
    } else if (type === 'summary') {
      series.set(name, new Set([...labels, 'quantile']));
      series.set(`${name}_sum`, labels);
      series.set(`${name}_count`, labels);
    } else {
      series.set(name, labels);
    }
  }
  return series;
}

/** Label values the operator can produce, per metric and label: selectors on other values would match nothing. */
const KNOWN_VALUES: Record<string, Record<string, readonly string[]>> = {
  hsm_operator_deployment_attempts_total: { class: DEPLOYMENT_ATTEMPT_CLASSES },
  hsm_operator_dedicatedhsm_provisioning_state: { state: PROVISIONING_STATES },
  hsm_operator_ntls_drift_total: { kind: NTLS_DRIFT_KINDS },
  hsm_operator_ntls_repush_total: { outcome: REPUSH_OUTCOMES },
  hsm_operator_hagroup_recoveries_total: { outcome: RECOVERY_OUTCOMES },
  hsm_operator_credential_refusals_total: { role: GUARD_ROLES },
  hsm_operator_resource_ready: { kind: RESOURCE_KINDS },
  hsm_operator_watch_restarts_total: { reason: ['error', 'idle', 'closed'] },
};

const exported = exportedSeries();

/** Problems with the series an expression reads; empty when it reads only what the operator exports. */
function problems(where: string, expr: string): string[] {
  const out: string[] = [];
  let found: Selector[];
  try {
    found = selectors(expr);
  } catch (e) {
    return [`${where}: ${(e as Error).message}`];
  }
  if (found.length === 0) out.push(`${where}: reads no metric`);
  for (const sel of found) {
    const labels = exported.get(sel.metric);
    if (!labels) {
      out.push(`${where}: ${sel.metric} is not exported by the operator`);
      continue;
    }
    for (const m of sel.matchers) {
      if (!labels.has(m.label)) out.push(`${where}: ${sel.metric} has no label ${m.label}`);
      const known = KNOWN_VALUES[sel.metric]?.[m.label];
      if (!known || m.value.includes('$') || m.value === 'x') continue;
      // Literal values, or a plain alternation of them, must be values the operator produces.
      const values = m.op.endsWith('~') ? (/^[\w|-]+$/.test(m.value) ? m.value.split('|') : []) : [m.value];
      for (const v of values) if (!known.includes(v)) out.push(`${where}: ${sel.metric}{${m.label}} is never ${JSON.stringify(v)}`);
    }
  }
  return out;
}

interface Rule {
  alert?: string;
  record?: string;
  expr: string;
  for?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
}

interface Panel {
  id: number;
  type: string;
  title: string;
  datasource?: { uid: string };
  gridPos: { x: number; y: number; w: number; h: number };
  targets?: { expr: string; refId: string }[];
}

describe('the PromQL tokenizer', () => {
  it('finds selectors and their matchers, and skips functions, keywords, grouping labels, strings and durations', () => {
    const expr =
      'histogram_quantile(0.99, sum by (controller, le) (rate(a_bucket{x="1", y=~"p|q"}[5m] offset 1h))) > 2 * 86400 ' +
      'unless on (namespace) label_replace(b, "dst", "$1", "src", "(.*)") and ignoring (z) {__name__="c", k!="v"} or absent(d)';
    expect(selectors(expr)).toEqual([
      {
        metric: 'a_bucket',
        matchers: [
          { label: 'x', op: '=', value: '1' },
          { label: 'y', op: '=~', value: 'p|q' },
        ],
      },
      { metric: 'b', matchers: [] },
      { metric: 'c', matchers: [{ label: 'k', op: '!=', value: 'v' }] },
      { metric: 'd', matchers: [] },
    ]);
    expect(metricNames('sum(increase(m_total{a="1"}[$__rate_interval])) / on() group_left count(m_total)')).toEqual(['m_total']);
    expect(metricNames('up{namespace=~"$namespace"} == bool 1')).toEqual(['up']);
  });

  it('rejects broken expressions', () => {
    expect(() => checkBrackets('sum(rate(x[5m])')).toThrow(/unclosed/);
    expect(() => selectors('x{a="1"')).toThrow();
    expect(() => selectors('x{a}')).toThrow(/operator/);
  });

  it('reports an unknown metric, label or label value', () => {
    expect(problems('t', 'hsm_operator_resource_redy == 0')).toEqual(['t: hsm_operator_resource_redy is not exported by the operator']);
    expect(problems('t', 'hsm_operator_resource_ready{nmespace="a"}')).toEqual(['t: hsm_operator_resource_ready has no label nmespace']);
    expect(problems('t', 'hsm_operator_deployment_attempts_total{class=~"race|quotas"}')).toEqual(['t: hsm_operator_deployment_attempts_total{class} is never "quotas"']);
    expect(problems('t', 'controller_runtime_reconcile_time_seconds_bucket{le="1"}')).toEqual([]);
  });
});

describe('charts/hsm-operator/files/prometheus-rules.yaml', () => {
  const doc = parse(readFileSync(join(files, 'prometheus-rules.yaml'), 'utf8')) as { groups: { name: string; rules: Rule[] }[] };
  const rules = doc.groups.flatMap((g) => g.rules);
  const alerts = rules.filter((r) => r.alert);

  it('holds named groups of well-formed alerts', () => {
    expect(doc.groups.length).toBeGreaterThan(0);
    expect(new Set(doc.groups.map((g) => g.name)).size).toBe(doc.groups.length);
    expect(new Set(alerts.map((a) => a.alert)).size).toBe(alerts.length);
    for (const a of alerts) {
      expect(a.alert, JSON.stringify(a)).toMatch(/^[A-Z][A-Za-z]+$/);
      expect(['critical', 'warning', 'info'], a.alert).toContain(a.labels?.severity);
      expect(a.annotations?.summary, a.alert).toBeTruthy();
      expect(a.annotations?.description, a.alert).toBeTruthy();
      if (a.for !== undefined) expect(a.for, a.alert).toMatch(/^\d+[smhd]$/);
    }
  });

  it('reads only metrics, labels and label values the operator exports', () => {
    expect(rules.flatMap((r) => problems(r.alert ?? r.record ?? '?', r.expr))).toEqual([]);
  });

  it('covers what the operator must alert on', () => {
    const byMetric = (metric: string) => alerts.filter((a) => metricNames(a.expr).includes(metric)).map((a) => a.alert);
    expect(byMetric('hsm_operator_resource_ready')).toEqual(expect.arrayContaining(['DedicatedHsmNotReady', 'HsmOperatorResourceNotReady']));
    expect(alerts.find((a) => a.alert === 'DedicatedHsmNotReady')?.for).toBe('30m');
    expect(byMetric('hsm_operator_hagroup_member_up')).toContain('HsmHaGroupMemberDown');
    expect(alerts.find((a) => a.alert === 'NtlsClientCertExpiringSoon')?.expr).toContain('< 14 * 86400');
    expect(byMetric('hsm_operator_credential_refusals_total')).toContain('HsmCredentialRefused');
    expect(byMetric('hsm_operator_reboot_patch_installed')).toContain('HsmRebootPatchMissing');
    expect(byMetric('hsm_operator_cache_staleness_seconds')).toContain('HsmOperatorCacheStale');
    expect(byMetric('controller_runtime_reconcile_errors_total')).toContain('HsmOperatorReconcileErrors');
    expect(byMetric('controller_runtime_reconcile_panics_total')).toContain('HsmOperatorReconcilePanics');
    expect(byMetric('workqueue_longest_running_processor_seconds')).toContain('HsmOperatorReconcileStuck');
  });

  it('keeps alert templates to the labels and value Prometheus provides', () => {
    for (const a of alerts) {
      for (const text of Object.values(a.annotations ?? {})) {
        for (const [, inner] of text.matchAll(/\{\{(.*?)\}\}/g)) expect(inner!.trim(), a.alert).toMatch(/^\$(labels\.\w+|value)( \| \w+)?$/);
      }
    }
  });
});

/** GitHub's anchor for a Markdown heading: lower case, punctuation dropped, spaces to hyphens. */
function headingAnchor(heading: string): string {
  return heading
    .trim()
    .toLowerCase()
    .replace(/[^\p{L}\p{N}\s_-]/gu, '')
    .replace(/\s/g, '-');
}

/** Level-2 sections of a Markdown document: anchor -> body. */
function sections(markdown: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const part of markdown.split(/^## /m).slice(1)) {
    const [heading = '', ...body] = part.split('\n');
    out.set(headingAnchor(heading), body.join('\n'));
  }
  return out;
}

describe('docs/runbooks.md', () => {
  const doc = parse(readFileSync(join(files, 'prometheus-rules.yaml'), 'utf8')) as { groups: { rules: Rule[] }[] };
  const alerts = doc.groups.flatMap((g) => g.rules.filter((r) => r.alert));
  const runbooks = sections(readFileSync(join(root, 'docs/runbooks.md'), 'utf8'));

  it('computes anchors as GitHub does', () => {
    expect(headingAnchor('HsmOperatorNoLeader')).toBe('hsmoperatornoleader');
    expect(headingAnchor("Failed HA Group Member Doesn't Recover")).toBe('failed-ha-group-member-doesnt-recover');
  });

  it('is where every alert points with runbook_url, at a section that exists', () => {
    const broken = alerts.flatMap((a) => {
      const url = a.annotations?.runbook_url ?? '';
      const m = /^docs\/runbooks\.md#([a-z0-9_-]+)$/.exec(url);
      if (!m) return [`${a.alert}: runbook_url ${JSON.stringify(url)} is not docs/runbooks.md#<anchor>`];
      if (!runbooks.has(m[1]!)) return [`${a.alert}: no section with anchor #${m[1]} in docs/runbooks.md`];
      if (m[1] !== headingAnchor(a.alert!)) return [`${a.alert}: points at #${m[1]}, not its own section`];
      return [];
    });
    expect(broken).toEqual([]);
  });

  it('has one section per alert saying what it means, the troubleshooting guide section, and what to do', () => {
    expect([...runbooks.keys()].sort()).toEqual(alerts.map((a) => headingAnchor(a.alert!)).sort());
    for (const a of alerts) {
      const body = runbooks.get(headingAnchor(a.alert!)) ?? '';
      expect(body, a.alert).toContain(`Severity: ${a.labels?.severity}.`);
      for (const part of ['**What it means.**', '**Troubleshooting guide.**', '**What to do.**']) expect(body, `${a.alert}: ${part}`).toContain(part);
    }
  });
});

describe('charts/hsm-operator/files/grafana-dashboard.json', () => {
  const dashboard = JSON.parse(readFileSync(join(files, 'grafana-dashboard.json'), 'utf8')) as {
    uid: string;
    title: string;
    panels: Panel[];
    templating: { list: { name: string; type: string; query: string | { query: string } }[] };
  };
  const panels = dashboard.panels.filter((p) => p.type !== 'row');

  it('is a dashboard with unique panel ids laid out on the 24-column grid', () => {
    expect(dashboard.uid).toBe('hsm-operator');
    expect(dashboard.title).toBeTruthy();
    expect(new Set(dashboard.panels.map((p) => p.id)).size).toBe(dashboard.panels.length);
    for (const p of dashboard.panels) expect(p.gridPos.x + p.gridPos.w, p.title).toBeLessThanOrEqual(24);
    for (const p of panels) {
      expect(p.datasource?.uid, p.title).toBe('${datasource}');
      expect(p.targets?.length, p.title).toBeGreaterThan(0);
    }
  });

  it('reads only metrics, labels and label values the operator exports', () => {
    const found = panels.flatMap((p) => (p.targets ?? []).flatMap((t) => problems(`${p.title}/${t.refId}`, t.expr)));
    for (const v of dashboard.templating.list.filter((t) => t.type === 'query')) {
      const query = typeof v.query === 'string' ? v.query : v.query.query;
      const m = /^label_values\((.+),\s*(\w+)\)$/.exec(query);
      expect(m, `variable ${v.name}`).not.toBeNull();
      found.push(...problems(`variable ${v.name}`, m![1]!));
      const labels = exported.get(metricNames(m![1]!)[0] ?? '');
      expect(labels?.has(m![2]!), `variable ${v.name}: label ${m![2]}`).toBe(true);
    }
    expect(found).toEqual([]);
  });

  it('shows every HSM metric the operator exports', () => {
    const shown = new Set(panels.flatMap((p) => (p.targets ?? []).flatMap((t) => metricNames(t.expr))));
    const hsm = [...exported.keys()].filter((n) => n.startsWith('hsm_operator_') && !n.endsWith('_events_dropped_total') && !n.endsWith('_watch_relists_total'));
    expect(hsm.filter((n) => !shown.has(n))).toEqual([]);
  });
});

describe('docs/observability.md', () => {
  const doc = readFileSync(join(root, 'docs/observability.md'), 'utf8');

  it('documents every metric the operator exports and every alert', () => {
    const rules = parse(readFileSync(join(files, 'prometheus-rules.yaml'), 'utf8')) as { groups: { rules: Rule[] }[] };
    const alerts = rules.groups.flatMap((g) => g.rules.flatMap((r) => (r.alert ? [r.alert] : [])));
    const metrics = [...exported.keys()]
      .filter((n) => !/^(process_|nodejs_)/.test(n))
      .map((n) => n.replace(/_(bucket|sum|count)$/, ''))
      .filter((n, i, all) => all.indexOf(n) === i);
    expect([...metrics, ...alerts].filter((name) => !doc.includes(`\`${name}`))).toEqual([]);
  });
});
