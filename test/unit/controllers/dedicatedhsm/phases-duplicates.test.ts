/**
 * One DedicatedHsm per Azure HSM, cluster-wide (controllers/dedicatedhsm/duplicates.ts), over the in-memory fakes: of
 * two objects naming one subscription/resource group/name, the older manages it and the newer does nothing in Azure
 * (zero ARM requests), and never learns the older's namespace or name when it is in another namespace.
 */
import { describe, expect, it } from 'vitest';
import type { DedicatedHsm } from '../../../../src/api/index.js';
import { armIdIndex, armIdKey, ownerOfResource } from '../../../../src/controllers/dedicatedhsm/duplicates.js';
import { parseTenancyPolicy } from '../../../../src/controllers/shared/index.js';
import { azureCallsTotal, checkedWorlds, conditionOf, dedicatedHsm, deleting, NAMESPACE, runFinalize, runPass, type UnitWorld } from '../../../support/unit-context.js';

const world = checkedWorlds();

/** hsm1 as object `name` in `ns`, created at `at`, naming the same ARM resource (spec.azure.name hsm1). */
function claim(w: UnitWorld, name: string, ns: string, at: string, uid = `uid-${ns}-${name}`): DedicatedHsm {
  const h = dedicatedHsm(w, name, { armName: 'hsm1' });
  h.metadata = { ...h.metadata, namespace: ns, uid, creationTimestamp: at };
  return h;
}

describe('duplicates: the older manages the Azure HSM, the newer does nothing in Azure', () => {
  it('same namespace: DuplicateResource names the older object; zero ARM requests; the older deploys', async () => {
    const w = world();
    const old = claim(w, 'first', NAMESPACE, '2026-01-01T00:00:00Z');
    const young = claim(w, 'second', NAMESPACE, '2026-01-02T00:00:00Z');
    w.others.push(old, young);
    const r = await runPass(w, young);
    expect(azureCallsTotal(w)).toBe(0);
    expect(r.obs).toBeUndefined();
    expect(conditionOf(r.hsm, 'Provisioned')).toMatchObject({ status: 'Unknown', reason: 'DuplicateResource', message: expect.stringContaining('DedicatedHsm first in this namespace, which is older,') });
    expect(conditionOf(r.hsm, 'Ready')).toMatchObject({ status: 'False', reason: 'DuplicateResource' });
    expect(r.events.map((e) => [e.type, e.reason])).toEqual([['Warning', 'DuplicateResource']]);
    // The older one is not held back by the newer.
    const o = await runPass(w, old);
    expect(o.action?.kind).toBe('create');
    expect(w.azure.puts('hsm1')).toBe(1);
  });

  it("another namespace: the message names neither the older's namespace nor its name", async () => {
    const w = world();
    const old = claim(w, 'platform-hsm', 'platform', '2026-01-01T00:00:00Z');
    const young = claim(w, 'my-hsm', 'team-b', '2026-01-02T00:00:00Z');
    w.others.push(old, young);
    const r = await runPass(w, young);
    expect(azureCallsTotal(w)).toBe(0);
    const said = JSON.stringify([r.hsm.status, r.events]);
    expect(said).toContain('An older DedicatedHsm in another namespace already manages Azure HSM hsm1');
    expect(said).not.toMatch(/platform-hsm|"platform"|\bplatform\b/);
  });

  it('the same creationTimestamp: the lower uid is the older; ARM IDs compare without regard to case', async () => {
    const w = world();
    const a = claim(w, 'a', 'ns-a', '2026-01-01T00:00:00Z', 'uid-0001');
    const b = claim(w, 'b', 'ns-b', '2026-01-01T00:00:00Z', 'uid-0002');
    b.spec.azure.resourceGroup = b.spec.azure.resourceGroup.toUpperCase();
    b.spec.azure.name = 'HSM1';
    expect(armIdKey(a)).toBe(armIdKey(b));
    expect(armIdIndex(a)).toEqual([armIdKey(a)]);
    expect(ownerOfResource(b, [a, b], undefined)).toBe(a);
    expect(ownerOfResource(a, [a, b], undefined)).toBeUndefined();
    // Another name is another resource.
    const c = claim(w, 'c', 'ns-c', '2025-01-01T00:00:00Z');
    c.spec.azure.name = 'hsm2';
    expect(ownerOfResource(a, [c], undefined)).toBeUndefined();
  });

  it('the object already managing the resource keeps it, whatever the creation order (a same-second tie never displaces it)', () => {
    const w = world();
    const a = claim(w, 'a', 'ns-a', '2026-01-01T00:00:00Z', 'uid-0001');
    const b = claim(w, 'b', 'ns-a', '2026-01-01T00:00:00Z', 'uid-0002');
    b.status = { ...(b.status ?? {}), resourceId: armIdKey(b).toUpperCase() };
    expect(ownerOfResource(a, [a, b], undefined)).toBe(b);
    expect(ownerOfResource(b, [a, b], undefined)).toBeUndefined();
  });

  it('an older object the tenancy policy keeps out of Azure does not hold the resource (no squatting)', async () => {
    const policy = parseTenancyPolicy(`globalIdentity: onlyListed\nnamespaces: [{names: [platform], identity: operator, subscriptions: [{id: "00000000-0000-0000-0000-0000000000a1", resourceGroups: ["*"]}]}]`, NAMESPACE);
    const w = world({ tenancy: policy });
    const squatter = claim(w, 'squat', 'team-z', '2025-01-01T00:00:00Z');
    const mine = claim(w, 'mine', 'platform', '2026-01-01T00:00:00Z');
    w.others.push(squatter, mine);
    const r = await runPass(w, mine);
    expect(r.action?.kind).toBe('create');
    expect(w.azure.puts('hsm1')).toBe(1);
    // The refused one reports its own refusal, also when it is the newer (never DuplicateResource for it).
    const late = claim(w, 'late', 'team-z', '2027-01-01T00:00:00Z');
    w.others.push(late);
    expect(ownerOfResource(late, w.others, policy)).toBeUndefined();
    expect(ownerOfResource(squatter, w.others, policy)).toBeUndefined();
  });

  it("a duplicate's deletion with deletionPolicy Delete and the confirm annotation: released, nothing zeroized or deleted", async () => {
    const w = world();
    const old = claim(w, 'first', NAMESPACE, '2026-01-01T00:00:00Z');
    const young = deleting(claim(w, 'second', NAMESPACE, '2026-01-02T00:00:00Z'), { 'dedicatedhsm.io/confirm-zeroize': 'hsm1' });
    young.spec.deletionPolicy = 'Delete';
    w.others.push(old, young);
    const r = await runFinalize(w, young);
    expect(r.released).toBe(true);
    expect(azureCallsTotal(w)).toBe(0);
    expect(w.device.counters().connections).toBe(0);
    expect(r.events.map((e) => [e.reason, e.note])).toEqual([['Orphaned', expect.stringContaining('managed by an older DedicatedHsm')]]);
  });
});
