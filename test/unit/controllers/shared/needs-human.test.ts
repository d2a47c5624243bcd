/**
 * Every reason of severity needsHuman, taken from the vocabulary (a new one is covered without touching this file),
 * and the "no Azure credential" situation, through the report step every controller ends with: Ready carries the
 * reason even when the checks before it never ran, Stalled is True, and the tools that read our status agree:
 * kstatus (the real cli-utils library, test/tools/kstatus) says Failed, the generated Argo CD health check (run in
 * gopher-lua) says Degraded, and explain-failure names the guide's fix.
 */
import { readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { beforeAll, describe, expect, it } from 'vitest';
import {
  API_VERSION,
  Annotations,
  CONDITIONS,
  REASONS,
  type ConditionInfo,
  type ConditionKind,
  type ConditionLike,
  type ConditionStatus,
  type Reason,
} from '../../../../src/api/index.js';
import { explain } from '../../../../src/cli/explain-failure.js';
import { GUIDE } from '../../../../src/cli/guide.js';
import type { HsmObject } from '../../../../src/cli/resources.js';
import { report, type Report } from '../../../../src/controllers/shared/index.js';
import { healthScriptFile } from '../../../../src/observability/argocd-health.js';
import { ensureTools, run } from '../../../support/tools.js';
import { runHealthScript } from '../../observability/lua.js';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '../../../..');
const now = new Date('2025-03-01T10:00:00Z');
const KINDS = Object.keys(CONDITIONS) as ConditionKind[];

const NEEDS_HUMAN = (Object.keys(REASONS) as Reason[]).filter((r) => REASONS[r].severity === 'needsHuman');

interface Case {
  name: string;
  kind: ConditionKind;
  reason: Reason;
  /** Ready's status as the roll-up must report it. */
  readyStatus: ConditionStatus;
  report: Report;
  annotations?: Record<string, string>;
}

/**
 * One case per (kind, check, failing status) for each needsHuman reason a check of that kind may carry, with that
 * check the only one reported: the checks before it in the roll-up order never ran. A reason no check carries
 * (Paused, and InvalidSpec on kinds whose checks do not list it) is what the controllers report as a Ready override.
 */
function cases(): Case[] {
  const out: Case[] = [];
  for (const reason of NEEDS_HUMAN) {
    let carried = false;
    for (const kind of KINDS) {
      for (const [type, info] of Object.entries(CONDITIONS[kind]) as [string, ConditionInfo][]) {
        if (!info.reasons.includes(reason)) continue;
        carried = true;
        const failing: ConditionStatus[] = info.normal === 'True' ? ['False', 'Unknown'] : ['True', 'Unknown'];
        for (const status of failing) {
          const computed: ConditionLike[] = [{ type, status, reason, message: `${type} says ${reason}.` }];
          out.push({
            name: `${kind}/${type}=${status}/${reason}`,
            kind,
            reason,
            readyStatus: status === 'Unknown' ? 'Unknown' : 'False',
            report: report(kind, [], computed, 1, now),
          });
        }
      }
    }
    if (!carried || reason === 'InvalidSpec') {
      for (const kind of KINDS) {
        out.push({
          name: `${kind}/override/${reason}`,
          kind,
          reason,
          readyStatus: 'False',
          report: report(kind, [], [], 1, now, { override: { reason, severity: 'needsHuman', message: `${kind} says ${reason}.` } }),
          ...(reason === 'Paused' ? { annotations: { [Annotations.reconcile]: 'paused' } } : {}),
        });
      }
    }
  }
  return out;
}

function objectOf(c: Pick<Case, 'kind' | 'report' | 'annotations'>, name: string): HsmObject {
  return {
    apiVersion: API_VERSION,
    kind: c.kind,
    metadata: { name, namespace: 'payments', uid: `uid-${name}`, generation: 1, ...(c.annotations ? { annotations: c.annotations } : {}) },
    spec: {},
    status: { observedGeneration: 1, conditions: c.report.conditions },
  } as unknown as HsmObject;
}

const condition = (r: Report, type: string) => r.conditions.find((c) => c.type === type);

/** "No Azure credential": the DedicatedHsm controller's first Azure read is refused; no other check has run. */
const noCredential: Case = {
  name: 'DedicatedHsm/no Azure credential',
  kind: 'DedicatedHsm',
  reason: 'AuthorizationFailed',
  readyStatus: 'Unknown',
  report: report(
    'DedicatedHsm',
    report('DedicatedHsm', [], [], 1, now).conditions, // the first status, written before any check
    [
      { type: 'DeletionBlocked', status: 'False', reason: 'NotBlocked', message: 'Nothing blocks deletion.' },
      {
        type: 'Provisioned',
        status: 'Unknown',
        reason: 'AuthorizationFailed',
        message:
          "Could not read HSM hsm1: EnvironmentCredential is unavailable. The operator's Azure identity is missing, was rejected or lacks permission: check the workload identity or the client secret.",
      },
    ],
    1,
    now,
  ),
};

describe('needsHuman reasons through the report step, kstatus, Argo CD and explain-failure', () => {
  const all = [noCredential, ...cases()];
  let tools: { kstatus: string; luahealth: string };
  beforeAll(async () => {
    tools = await ensureTools();
  }, 900_000);

  it('cover every needsHuman reason of the vocabulary', () => {
    expect(NEEDS_HUMAN).toEqual(expect.arrayContaining(['AuthorizationFailed', 'QuotaExceeded', 'CredentialRejected', 'Paused', 'InvalidSpec']));
    expect(new Set(all.map((c) => c.reason))).toEqual(new Set(NEEDS_HUMAN));
  });

  it('no Azure credential: Ready says AuthorizationFailed, not "SubnetDelegated has not been checked yet"', () => {
    expect(condition(noCredential.report, 'SubnetDelegated')).toBeUndefined();
    expect(condition(noCredential.report, 'Ready')).toMatchObject({ status: 'Unknown', reason: 'AuthorizationFailed', message: expect.stringContaining('Could not read HSM hsm1') });
    expect(condition(noCredential.report, 'Stalled')).toMatchObject({ status: 'True', reason: 'AuthorizationFailed' });
    expect(condition(noCredential.report, 'Reconciling')?.status).toBe('False');
  });

  it('Ready carries the reason, Stalled is True, Reconciling False, even when the checks before it never ran', () => {
    const got = all.map((c) => {
      const ready = condition(c.report, 'Ready');
      return `${c.name}: Ready ${ready?.status}/${ready?.reason}, Stalled ${condition(c.report, 'Stalled')?.status}, Reconciling ${condition(c.report, 'Reconciling')?.status}`;
    });
    expect(got).toEqual(all.map((c) => `${c.name}: Ready ${c.readyStatus}/${c.reason}, Stalled True, Reconciling False`));
  });

  it('kstatus says Failed', () => {
    const objects = all.map((c, i) => objectOf(c, `o${i}`));
    const got = JSON.parse(run(tools.kstatus, [], JSON.stringify(objects))) as { name: string; status: string; message: string }[];
    expect(got.map((g, i) => `${all[i]!.name}: ${g.status}`)).toEqual(all.map((c) => `${c.name}: Failed`));
    for (const [i, g] of got.entries()) expect(g.message, all[i]!.name).toContain(condition(all[i]!.report, 'Ready')?.message ?? '?');
  });

  it('the generated Argo CD health check says Degraded (Suspended while the pause annotation is on)', () => {
    for (const kind of KINDS) {
      const mine = all.filter((c) => c.kind === kind);
      const script = readFileSync(join(root, 'config/argocd', healthScriptFile(kind)), 'utf8');
      const got = runHealthScript(tools.luahealth, script, mine.map((c, i) => objectOf(c, `o${i}`)));
      expect(got.map((g, i) => `${mine[i]!.name}: ${g.status}`)).toEqual(mine.map((c) => `${c.name}: ${c.reason === 'Paused' ? 'Suspended' : 'Degraded'}`));
      for (const [i, g] of got.entries()) if (g.status === 'Degraded') expect(g.message).toBe(`${mine[i]!.reason}: ${condition(mine[i]!.report, 'Stalled')?.message}`);
    }
  });

  it('explain-failure says a human must act and gives the guide\'s fix', () => {
    for (const c of all) {
      const text = explain(objectOf(c, 'x'), [], now.getTime());
      const advice = GUIDE[c.reason as keyof typeof GUIDE];
      expect(advice, `${c.reason} has advice`).toBeDefined();
      expect(text, c.name).toContain(`Ready: ${c.readyStatus}, reason ${c.reason} - needs a human`);
      expect(text, c.name).toContain(`What to do: ${advice?.action}`);
      expect(text, c.name).not.toContain('Nothing to do');
    }
  });
});
