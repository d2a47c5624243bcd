/**
 * GitOps tools (Flux, `kubectl wait`-style tools, cli-utils appliers) judge our objects with kstatus. This test
 * writes, through the real API server's /status subresource, the statuses our controllers produce — built with the
 * condition vocabulary of src/api/conditions.ts, not by hand — reads the live objects back and runs the real kstatus
 * library over them: Current exactly when Ready is True for the current generation, InProgress while converging,
 * Failed when a human must act.
 */
import { readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { CustomObjectsApi } from '@kubernetes/client-node';
import { beforeAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import {
  GROUP,
  KINDS,
  READY_CHECKS,
  VERSION,
  deriveKstatus,
  rollUpReady,
  severityOf,
  type ConditionKind,
  type ConditionLike,
  type Reason,
  type Verdict,
} from '../../../src/api/index.js';
import { setCondition, type Condition } from '../../../src/runtime/conditions.js';
import { adminConfig, createNamespace } from '../../support/kube.js';
import { ensureTools, run } from '../../support/tools.js';

const samples = resolve(dirname(fileURLToPath(import.meta.url)), '../../../config/samples');
const SAMPLE_FILES: Record<ConditionKind, string> = {
  DedicatedHsm: 'platform/dedicatedhsm-stamp1.yaml',
  NtlsClientBinding: 'app-a/ntlsclientbinding-tls-secret.yaml',
  HsmHaGroup: 'platform/hsmhagroup.yaml',
};

interface Obj {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; generation?: number; resourceVersion?: string; annotations?: Record<string, string> };
  spec: Record<string, unknown>;
  status?: Record<string, unknown>;
}

type Check = [type: string, status: Condition['status'], reason: Reason, message: string];

/** One situation per kind and severity: the checks a controller would have set, first failing check decides. */
const SITUATIONS: Record<ConditionKind, Record<'progressing' | 'retrying' | 'needsHuman', Check>> = {
  DedicatedHsm: {
    progressing: ['GatewayReady', 'False', 'WaitingForGateway', 'ExpressRoute gateway hsm-ergw is Updating; checking again in 2m.'],
    retrying: ['Provisioned', 'False', 'DeploymentRace', 'Attempt 1 of 3 failed on a networking dependency; retrying in 1m.'],
    needsHuman: ['QuotaAvailable', 'False', 'QuotaExceeded', 'Region eastus has 4 of 4 HSMs; delete failed leftovers or ask for a quota increase.'],
  },
  NtlsClientBinding: {
    progressing: ['Registered', 'False', 'Registering', 'Registering app-b on hsm-eastus-2.'],
    retrying: ['InSync', 'False', 'Drifted', 'hsm-eastus-1: partition par0 is no longer assigned; re-push scheduled.'],
    needsHuman: ['CertificateValid', 'False', 'CertificateExpired', 'The client certificate in Secret app-b-tls has expired.'],
  },
  HsmHaGroup: {
    progressing: ['MembersHealthy', 'False', 'ConfiguringGroup', 'Adding member 1234002 to paymentsHA.'],
    retrying: ['MembersHealthy', 'False', 'MemberDown', 'Member 1234002 is down; recovery scheduled in 1m.'],
    needsHuman: ['MembersHealthy', 'False', 'RecoveryCircuitOpen', '3 recovery attempts in 1h; recovery stopped. Investigate, then set dedicatedhsm.io/recover-now.'],
  },
};

/** The happy reason of each check, as a controller reports a passing check. */
const PASSING: Record<string, [Condition['status'], Reason]> = {
  DeletionBlocked: ['False', 'NotBlocked'],
  SubnetDelegated: ['True', 'Delegated'],
  GatewayReady: ['True', 'GatewaySucceeded'],
  QuotaAvailable: ['True', 'WithinQuota'],
  Provisioned: ['True', 'Succeeded'],
  ApplianceReachable: ['True', 'Reachable'],
  NtlsReachable: ['True', 'Reachable'],
  RebootPatchInstalled: ['True', 'PatchInstalled'],
  CertificateValid: ['True', 'Valid'],
  Registered: ['True', 'Registered'],
  InSync: ['True', 'InSync'],
  MembersHealthy: ['True', 'Healthy'],
  CloningDomainConsistent: ['True', 'Consistent'],
  AutoRecoveryConfigured: ['True', 'Configured'],
};

/**
 * The conditions a controller writes at `generation`: the checks in roll-up order up to the failing one (all of them,
 * passing, when none fails; none at all for 'unchecked', a controller's first status), then Ready from rollUpReady and
 * Reconciling/Stalled from deriveKstatus.
 */
function conditionsFor(
  kind: ConditionKind,
  failing: Check | 'unchecked' | undefined,
  generation: number,
  verdictOverride?: Verdict,
): { conditions: Condition[]; verdict: Verdict } {
  const now = new Date('2025-03-01T10:00:00Z');
  let list: Condition[] = [];
  const failed = failing === 'unchecked' ? undefined : failing;
  for (const check of failing === 'unchecked' ? [] : READY_CHECKS[kind]) {
    if (failed && check.type === failed[0]) {
      list = setCondition(list, { type: failed[0], status: failed[1], reason: failed[2], message: failed[3] }, generation, now);
      break;
    }
    const passing = PASSING[check.type];
    if (!passing) throw new Error(`no passing reason for ${check.type}`);
    list = setCondition(list, { type: check.type, status: passing[0], reason: passing[1], message: `${check.type} passed.` }, generation, now);
  }
  const verdict = verdictOverride ?? rollUpReady(list, READY_CHECKS[kind]);
  const ks = deriveKstatus(verdict);
  list = setCondition(list, { type: 'Ready', status: verdict.status, reason: verdict.reason, message: verdict.message }, generation, now);
  for (const c of [ks.reconciling, ks.stalled] as ConditionLike[]) list = setCondition(list, c, generation, now);
  return { conditions: list, verdict };
}

function sample(kind: ConditionKind): Obj {
  const obj = parse(readFileSync(join(samples, SAMPLE_FILES[kind]), 'utf8')) as Obj;
  if (obj.kind !== kind) throw new Error(`${SAMPLE_FILES[kind]} holds a ${obj.kind}, not a ${kind}`);
  return obj;
}

const plural = (kind: ConditionKind): string => KINDS.find((k) => k.kind === kind)!.plural;

describe('kstatus reads our status conventions', () => {
  let kstatus: string;
  let api: CustomObjectsApi;
  let namespace: string;

  beforeAll(async () => {
    ({ kstatus } = await ensureTools());
    api = adminConfig().makeApiClient(CustomObjectsApi);
    namespace = await createNamespace('gitops-kstatus');
  });

  const coords = (kind: ConditionKind) => ({ group: GROUP, version: VERSION, namespace, plural: plural(kind) });

  async function createObject(kind: ConditionKind, name: string): Promise<Obj> {
    const body = sample(kind);
    body.metadata = { name };
    return (await api.createNamespacedCustomObject({ ...coords(kind), body })) as Obj;
  }

  /** Writes status through the /status subresource, as the controllers do, and returns the live object. */
  async function writeStatus(kind: ConditionKind, name: string, status: (generation: number) => Record<string, unknown>): Promise<Obj> {
    const live = (await api.getNamespacedCustomObject({ ...coords(kind), name })) as Obj;
    const body = { ...live, status: status(live.metadata.generation ?? 1) };
    await api.replaceNamespacedCustomObjectStatus({ ...coords(kind), name, body });
    return (await api.getNamespacedCustomObject({ ...coords(kind), name })) as Obj;
  }

  function computeKstatus(objects: Obj[]): { name: string; status: string; message: string }[] {
    return JSON.parse(run(kstatus, [], JSON.stringify(objects))) as { name: string; status: string; message: string }[];
  }

  describe.each(Object.keys(SITUATIONS) as ConditionKind[])('%s', (kind) => {
    it('is Current exactly when Ready is True for the current generation, InProgress while converging, Failed when a human must act', async () => {
      const cases: { name: string; failing?: Check | 'unchecked'; expected: string; severity: string }[] = [
        { name: 'ready', expected: 'Current', severity: 'ready' },
        // The first status a controller writes, before any check ran: Ready Unknown (Pending), Reconciling True.
        { name: 'unchecked', failing: 'unchecked', expected: 'InProgress', severity: 'progressing' },
        ...(['progressing', 'retrying', 'needsHuman'] as const).map((severity) => ({
          name: severity.toLowerCase(),
          failing: SITUATIONS[kind][severity],
          expected: severity === 'needsHuman' ? 'Failed' : 'InProgress',
          severity,
        })),
      ];
      const live: Obj[] = [];
      for (const c of cases) {
        await createObject(kind, c.name);
        live.push(
          await writeStatus(kind, c.name, (generation) => {
            const { conditions, verdict } = conditionsFor(kind, c.failing, generation);
            expect(verdict.severity, `${c.name}: our roll-up`).toBe(c.severity);
            if (Array.isArray(c.failing)) expect(severityOf(c.failing[2])).toBe(c.severity);
            return { observedGeneration: generation, conditions };
          }),
        );
      }
      // The API server kept what we wrote: conditions round-trip through the schema unpruned.
      for (const obj of live) expect((obj.status?.conditions as Condition[] | undefined)?.map((c) => c.type)).toContain('Stalled');

      const got = computeKstatus(live);
      expect(got.map((r) => `${r.name}: ${r.status}`)).toEqual(cases.map((c) => `${c.name}: ${c.expected}`));
      // kstatus shows our reason and message, so `flux get` / `kubectl wait` output says what is going on.
      for (const [i, c] of cases.entries()) if (Array.isArray(c.failing)) expect(got[i]!.message).toContain(c.failing[3]);
    });

    it('is InProgress once the spec changes, until the operator observes the new generation', async () => {
      await createObject(kind, 'changed');
      await writeStatus(kind, 'changed', (generation) => ({ observedGeneration: generation, ...conditionsFor(kind, undefined, generation) }));
      const live = (await api.getNamespacedCustomObject({ ...coords(kind), name: 'changed' })) as Obj;
      expect(computeKstatus([live])[0]!.status).toBe('Current');

      const patched = (await api.replaceNamespacedCustomObject({
        ...coords(kind),
        name: 'changed',
        body: { ...live, metadata: { ...live.metadata, labels: { touched: 'yes' } }, spec: { ...live.spec, ...specChange(kind) } },
      })) as Obj;
      expect(patched.metadata.generation).toBe(2);
      expect(computeKstatus([patched])[0]!.status).toBe('InProgress');

      const observed = await writeStatus(kind, 'changed', (generation) => ({ observedGeneration: generation, ...conditionsFor(kind, undefined, generation) }));
      expect(computeKstatus([observed])[0]!.status).toBe('Current');
    });

    it('is Failed while paused (Stalled, reason Paused), so a GitOps wait does not report a paused object healthy', async () => {
      await createObject(kind, 'paused');
      const paused: Verdict = { status: 'False', reason: 'Paused', message: 'dedicatedhsm.io/reconcile=paused: nothing is done until the annotation is removed.', severity: 'needsHuman' };
      expect(severityOf('Paused')).toBe('needsHuman');
      const live = await writeStatus(kind, 'paused', (generation) => ({ observedGeneration: generation, conditions: conditionsFor(kind, undefined, generation, paused).conditions }));
      expect(computeKstatus([live])[0]).toMatchObject({ status: 'Failed', message: expect.stringContaining('paused') });
    });
  });
});

/** A change to a mutable spec field of each kind, so metadata.generation moves on. */
function specChange(kind: ConditionKind): Record<string, unknown> {
  switch (kind) {
    case 'DedicatedHsm':
      return { azure: { ...(sample(kind).spec.azure as Record<string, unknown>), tags: { environment: 'staging' } } };
    case 'NtlsClientBinding':
      return { outputSecretName: 'app-b-luna-client-2' };
    case 'HsmHaGroup':
      return { pollInterval: '45s' };
  }
}
