import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { beforeAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { Annotations } from '../../../src/api/annotations.js';
import { deriveKstatus, readyReasons, severityOf, type ConditionKind, type ConditionLike, type Verdict } from '../../../src/api/conditions.js';
import { HEALTH_KINDS, argoCdFiles, healthCustomizationKey, healthScript, healthScriptFile } from '../../../src/observability/argocd-health.js';
import { gopherLua, runHealthScript } from './lua.js';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '../../..');
const fixturesDir = join(root, 'test/fixtures/argocd');
let lua = '';
beforeAll(async () => {
  lua = await gopherLua();
}, 900_000);

interface KubeObject {
  kind: string;
  metadata: { name: string; generation?: number; annotations?: Record<string, string> };
  status?: { observedGeneration?: number; conditions?: ConditionLike[] };
}

function fixtures(kind: ConditionKind): { file: string; expected: string; obj: KubeObject }[] {
  const dir = join(fixturesDir, kind.toLowerCase());
  return readdirSync(dir)
    .filter((f) => f.endsWith('.json'))
    .sort()
    .map((file) => {
      const prefix = file.replace(/\.json$/, '').split('-')[0]!;
      return { file, expected: prefix[0]!.toUpperCase() + prefix.slice(1), obj: JSON.parse(readFileSync(join(dir, file), 'utf8')) as KubeObject };
    });
}

/** An object whose Ready, Reconciling and Stalled follow our conventions for `reason`. */
function objectWith(kind: ConditionKind, ready: Verdict, options: { generation?: number; observed?: number; annotations?: Record<string, string> } = {}): KubeObject {
  const generation = options.generation ?? 1;
  const observedGeneration = options.observed ?? generation;
  const ks = deriveKstatus(ready);
  const conditions = [{ type: 'Ready', status: ready.status, reason: ready.reason, message: ready.message }, ks.reconciling, ks.stalled].map((c) => ({
    ...c,
    observedGeneration,
    lastTransitionTime: '2025-03-01T10:00:00Z',
  }));
  return {
    kind,
    metadata: { name: 'x', generation, ...(options.annotations ? { annotations: options.annotations } : {}) },
    status: { observedGeneration, conditions },
  };
}

function verdictFor(reason: string): Verdict {
  const severity = severityOf(reason);
  if (!severity) throw new Error(`unknown reason ${reason}`);
  return { status: severity === 'ready' ? 'True' : 'False', reason, message: `message of ${reason}`, severity };
}

const expectedHealth = { ready: 'Healthy', progressing: 'Progressing', retrying: 'Progressing', needsHuman: 'Degraded' } as const;

describe('generated Argo CD files', () => {
  it('are fresh: the checked-in files equal what argocd-health.ts renders', () => {
    for (const [path, text] of Object.entries(argoCdFiles())) {
      expect(readFileSync(join(root, path), 'utf8'), `${path} is stale: run npx tsx src/observability/generate-argocd.ts`).toBe(text);
    }
  });

  it('put each kind\'s script, byte for byte, under the argocd-cm key Argo CD reads', () => {
    const values = parse(readFileSync(join(root, 'charts/hsm-operator/files/argocd-health.yaml'), 'utf8')) as { configs: { cm: Record<string, string> } };
    const patch = parse(readFileSync(join(root, 'config/argocd/argocd-cm-patch.yaml'), 'utf8')) as { kind: string; metadata: { name: string }; data: Record<string, string> };
    expect(patch).toMatchObject({ kind: 'ConfigMap', metadata: { name: 'argocd-cm' } });
    const keys = HEALTH_KINDS.map((k) => healthCustomizationKey(k));
    expect(keys).toEqual([
      'resource.customizations.health.dedicatedhsm.io_DedicatedHsm',
      'resource.customizations.health.dedicatedhsm.io_NtlsClientBinding',
      'resource.customizations.health.dedicatedhsm.io_HsmHaGroup',
    ]);
    expect(Object.keys(values.configs.cm)).toEqual(keys);
    expect(Object.keys(patch.data)).toEqual(keys);
    for (const kind of HEALTH_KINDS) {
      const lua = readFileSync(join(root, 'config/argocd', healthScriptFile(kind)), 'utf8');
      expect(values.configs.cm[healthCustomizationKey(kind)]).toBe(lua);
      expect(patch.data[healthCustomizationKey(kind)]).toBe(lua);
    }
  });
});

describe('the object handed to a script', () => {
  it('keeps strings with quotes, escapes, newlines and non-ASCII, array lengths and numbers, and drops null', () => {
    const tricky = 'a "quoted" \\ back\nslash\t1 ü 🙂 \u0001 9';
    const [out] = runHealthScript(lua, 'return { status = obj.s, message = tostring(#obj.list) .. tostring(obj.n) .. tostring(obj.gone) }', [
      { s: tricky, list: [1, 2, 3], n: 42, gone: null },
    ]);
    expect(out).toEqual({ status: tricky, message: '342nil' });
  });

  it('refuses a script that returns no table, as Argo CD does', () => {
    expect(() => runHealthScript(lua, 'return "Healthy"', [{}])).toThrow(/expect table output/);
  });
});

describe('Argo CD health checks in gopher-lua', () => {
  describe.each(HEALTH_KINDS)('%s', (kind) => {
    const script = readFileSync(join(root, 'config/argocd', healthScriptFile(kind)), 'utf8');

    it('report the health each fixture is named after', () => {
      const cases = fixtures(kind);
      expect(cases.map((c) => c.expected)).toEqual(expect.arrayContaining(['Healthy', 'Progressing', 'Degraded', 'Suspended']));
      const got = runHealthScript(lua, script, cases.map((c) => c.obj));
      expect(got.map((g, i) => `${cases[i]!.file}: ${g.status}`)).toEqual(cases.map((c) => `${c.file}: ${c.expected}`));
      // A Degraded message carries the reason and the operator's words, so Argo CD says what to do.
      for (const [i, g] of got.entries()) {
        if (g.status !== 'Degraded') continue;
        const stalled = cases[i]!.obj.status?.conditions?.find((c) => c.type === 'Stalled');
        expect(g.message).toBe(`${stalled?.reason}: ${stalled?.message}`);
      }
    });

    it('map every Ready reason of the kind by its severity', () => {
      const reasons = readyReasons(kind).filter((r) => r !== 'Paused');
      const got = runHealthScript(lua, script, reasons.map((r) => objectWith(kind, verdictFor(r))));
      expect(got.map((g, i) => `${reasons[i]}: ${g.status}`)).toEqual(reasons.map((r) => `${r}: ${expectedHealth[severityOf(r)!]}`));
    });

    it('report Suspended while paused, whatever the status says, and Progressing once the pause is lifted', () => {
      const paused = { [Annotations.reconcile]: 'paused' };
      const got = runHealthScript(lua, script, [
        objectWith(kind, verdictFor('Paused'), { annotations: paused }),
        objectWith(kind, verdictFor('QuotaExceeded'), { annotations: paused }),
        { kind, metadata: { name: 'x', generation: 1, annotations: paused } },
        objectWith(kind, verdictFor('Paused')),
        objectWith(kind, verdictFor('Paused'), { annotations: { [Annotations.reconcile]: 'observe' } }),
        objectWith(kind, verdictFor('Observing'), { annotations: { [Annotations.reconcile]: 'observe' } }),
      ]);
      expect(got.map((g) => g.status)).toEqual(['Suspended', 'Suspended', 'Suspended', 'Progressing', 'Progressing', 'Healthy']);
    });

    it('wait for the current generation before trusting Ready or Stalled', () => {
      const behind = { generation: 4, observed: 3 };
      const readyOld = objectWith(kind, verdictFor('Ready'));
      readyOld.metadata.generation = 2;
      readyOld.status!.observedGeneration = 2; // the status says current, but Ready itself was written for generation 1
      const got = runHealthScript(lua, script, [
        objectWith(kind, verdictFor('Ready'), behind),
        objectWith(kind, verdictFor('InvalidSpec'), behind),
        readyOld,
        objectWith(kind, verdictFor('Ready'), { generation: 4, observed: 4 }),
      ]);
      expect(got.map((g) => g.status)).toEqual(['Progressing', 'Progressing', 'Progressing', 'Healthy']);
      expect(got[0]!.message).toBe('Waiting for the operator to observe generation 4');
    });

    it('report Progressing with no status, no conditions or no Ready condition yet', () => {
      const got = runHealthScript(lua, script, [
        { kind, metadata: { name: 'x', generation: 1 } },
        { kind, metadata: { name: 'x', generation: 1 }, status: { observedGeneration: 1, conditions: [] } },
        { kind, metadata: { name: 'x', generation: 1 }, status: { observedGeneration: 1, conditions: [{ type: 'Other', status: 'True', reason: 'X', message: '' }] } },
      ]);
      expect(got.map((g) => g.status)).toEqual(['Progressing', 'Progressing', 'Progressing']);
      expect(got[2]!.message).toBe('Waiting for the Ready condition');
    });

    it('names the kind it checks in its header', () => {
      expect(script).toBe(healthScript(kind));
      expect(script.split('\n')[0]).toContain(`dedicatedhsm.io/v1alpha1 ${kind}`);
    });
  });
});

describe('Argo CD fixtures', () => {
  it.each(HEALTH_KINDS)('%s: Reconciling and Stalled follow from Ready by the severity table', (kind) => {
    for (const { file, obj } of fixtures(kind)) {
      const conditions = obj.status?.conditions;
      if (!conditions) continue;
      const ready = conditions.find((c) => c.type === 'Ready');
      expect(ready, file).toBeDefined();
      const severity = severityOf(ready!.reason);
      expect(severity, `${file}: reason ${ready!.reason} is in the table`).toBeDefined();
      const derived = deriveKstatus({ status: ready!.status, reason: ready!.reason, message: ready!.message, severity: severity! });
      const pick = (c: ConditionLike | undefined) => c && { type: c.type, status: c.status, reason: c.reason };
      expect(pick(conditions.find((c) => c.type === 'Reconciling')), file).toEqual(pick(derived.reconciling));
      expect(pick(conditions.find((c) => c.type === 'Stalled')), file).toEqual(pick(derived.stalled));
    }
  });
});
