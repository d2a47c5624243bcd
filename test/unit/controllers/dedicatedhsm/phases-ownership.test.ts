/**
 * Ownership of the Azure HSM (controllers/dedicatedhsm/ownership.ts), over the in-memory fakes: an HSM of the same
 * name without this object's ownership tag is never adopted, written to, read further or deleted unless the adopt
 * annotation names it, and the refusal says nothing of the other HSM's settings. Every "nothing was sent" is paired
 * with the getHsm count that proves the pass looked.
 */
import { describe, expect, it } from 'vitest';
import type { DedicatedHsm } from '../../../../src/api/index.js';
import { ownerTags } from '../../../../src/controllers/dedicatedhsm/ownership.js';
import type { FakeAppliance } from '../../../support/fakes/device-plane.js';
import { addAppliance, azureCallsTotal, checkedWorlds, conditionOf, dedicatedHsm, deleting, hsmWrites, runFinalize, runPass, type HsmOptions, type UnitWorld } from '../../../support/unit-context.js';

const world = checkedWorlds();
const ADOPT = 'dedicatedhsm.io/adopt';

/** An HSM named hsm1 in Azure with `tags` (none: nobody's) and its appliance. */
async function found(o: { tags?: Record<string, string>; stampId?: 'stamp1' | 'stamp2'; provisioningState?: string } = {}): Promise<{ w: UnitWorld; a: FakeAppliance; hsm: (h?: HsmOptions) => DedicatedHsm }> {
  const w = world();
  const a = await addAppliance(w, 'hsm1');
  const { subscriptionId, resourceGroup, location, subnetId } = w.ids;
  w.azure.addHsm({ subscriptionId, resourceGroup, name: 'hsm1', location, subnetId, stampId: o.stampId ?? 'stamp1', tags: o.tags ?? {}, ...(o.provisioningState ? { provisioningState: o.provisioningState } : {}) });
  return { w, a, hsm: (h = {}) => dedicatedHsm(w, 'hsm1', { hostKey: a.hostKey, ...h }) };
}

/** Nothing but the one getHsm reached Azure, nothing reached the appliance. */
function onlyLooked(w: UnitWorld): void {
  expect(w.azure.calls.getHsm).toBe(1);
  expect(azureCallsTotal(w)).toBe(1);
  expect(hsmWrites(w)).toEqual([]);
  expect(w.device.counters().connections + w.device.counters().tcpProbes).toBe(0);
}

describe('DedicatedHsm ownership: an HSM that is not ours', () => {
  it('untagged: AdoptionRefused (Provisioned and Ready), one Warning, no write, no NIC, network, preflight or appliance read', async () => {
    const { w, hsm } = await found({ tags: { owner: 'team-b' } });
    const r = await runPass(w, hsm({ tags: { owner: 'team-a' } }));
    onlyLooked(w);
    expect(r.action?.kind).toBe('none');
    const c = conditionOf(r.hsm, 'Provisioned');
    expect(c).toMatchObject({ status: 'False', reason: 'AdoptionRefused' });
    expect(c?.message).toContain('An Azure HSM named hsm1 already exists in resource group rg-hsm');
    expect(c?.message).toContain(`set the annotation ${ADOPT} to its name (hsm1) or its ARM resource ID`);
    expect(conditionOf(r.hsm, 'Ready')).toMatchObject({ status: 'False', reason: 'AdoptionRefused' });
    expect(conditionOf(r.hsm, 'Stalled')?.status).toBe('True');
    expect(r.events.map((e) => [e.type, e.reason])).toEqual([['Warning', 'AdoptionRefused']]);
    expect(r.hsm.status?.resourceId).toBeUndefined();
    expect(r.hsm.status?.provisioningState).toBeUndefined();
    // The next pass: looked at again, not told again.
    w.clock.advance(r.next ?? 0);
    const r2 = await runPass(w, r.hsm);
    expect(w.azure.calls.getHsm).toBe(2);
    expect(r2.events).toEqual([]);
    expect(hsmWrites(w)).toEqual([]);
  });

  it('with other immutable settings too: still only AdoptionRefused, never which fields differ (AdoptionConflict is for our own)', async () => {
    const { w, hsm } = await found({ stampId: 'stamp2' });
    const r = await runPass(w, hsm({ stampId: 'stamp1' }));
    onlyLooked(w);
    expect(r.obs?.drift).toBeUndefined();
    expect(conditionOf(r.hsm, 'Provisioned')?.reason).toBe('AdoptionRefused');
    const said = JSON.stringify([r.hsm.status, r.events]);
    expect(said).not.toMatch(/stamp2|stampId|Succeeded|10\.0\.2\.4/);
  });

  it("tagged with another object's uid: refused the same way, in manage and observe mode", async () => {
    for (const mode of ['manage', 'observe'] as const) {
      const { w, hsm } = await found({ tags: { 'dedicatedhsm.io-owner-uid': 'uid-of-someone-else' } });
      const r = await runPass(w, hsm(), { mode });
      onlyLooked(w);
      expect(conditionOf(r.hsm, 'Provisioned')?.reason, mode).toBe('AdoptionRefused');
      expect(r.hsm.status?.appliance, mode).toBeUndefined();
    }
  });

  it('a Failed HSM that is not ours is not deleted for a redeploy, nor PUT over', async () => {
    const { w, hsm } = await found({ provisioningState: 'Failed' });
    const r = await runPass(w, hsm());
    onlyLooked(w);
    expect(w.azure.deletes()).toBe(0);
    expect(conditionOf(r.hsm, 'Provisioned')?.reason).toBe('AdoptionRefused');
  });

  it('deletionPolicy Delete with the confirm annotation: released with nothing zeroized or deleted, an Orphaned Warning', async () => {
    const { w, hsm } = await found();
    const r = await runFinalize(w, deleting(hsm({ deletionPolicy: 'Delete' }), { 'dedicatedhsm.io/confirm-zeroize': 'hsm1' }));
    expect(r.released).toBe(true);
    onlyLooked(w);
    expect(w.azure.deletes()).toBe(0);
    expect(w.device.counters().hsmLogins.failure).toBe(0);
    expect(r.events.map((e) => [e.type, e.reason])).toEqual([['Warning', 'Orphaned']]);
    expect(r.events[0]?.note).toContain('not this object');
  });
});

describe('DedicatedHsm ownership: adoption by annotation, and our own', () => {
  it('the adopt annotation naming it: Adopted, one tags PATCH that adds our ownership tags and keeps the others; then ours', async () => {
    const { w, hsm } = await found({ tags: { owner: 'team-a' } });
    const h = hsm({ annotations: { [ADOPT]: 'hsm1' } });
    const r1 = await runPass(w, h);
    expect(r1.events.map((e) => e.reason)).toEqual(['Adopted', 'TagsUpdated']);
    expect(hsmWrites(w)).toEqual(['PATCH hsm1']);
    expect(w.azure.hsm('hsm1')?.tags).toEqual({ owner: 'team-a', ...ownerTags(h) });
    expect(conditionOf(r1.hsm, 'Ready')?.status).toBe('True');
    // Ours now: the annotation no longer matters.
    const { [ADOPT]: _dropped, ...rest } = r1.hsm.metadata.annotations ?? {};
    w.clock.advance(r1.next ?? 0);
    const r2 = await runPass(w, { ...r1.hsm, metadata: { ...r1.hsm.metadata, annotations: rest } });
    expect(w.azure.calls.getHsm).toBe(2);
    expect(r2.events).toEqual([]);
    expect(hsmWrites(w)).toEqual(['PATCH hsm1']);
    expect(conditionOf(r2.hsm, 'Ready')?.status).toBe('True');
  });

  it('the adopt annotation naming another HSM is no key', async () => {
    const { w, hsm } = await found();
    const r = await runPass(w, hsm({ annotations: { [ADOPT]: 'hsm2' } }));
    onlyLooked(w);
    expect(conditionOf(r.hsm, 'Provisioned')?.reason).toBe('AdoptionRefused');
  });

  it('recorded in status by an operator before ownership tags: ours, tagged with one PATCH, no Adopted Event', async () => {
    const { w, hsm } = await found();
    const id = w.azure.hsm('hsm1')?.id ?? '';
    const r = await runPass(w, hsm({ status: { resourceId: id, provisioningState: 'Succeeded' } }));
    expect(r.events.map((e) => e.reason)).toEqual(['TagsUpdated']);
    expect(hsmWrites(w)).toEqual(['PATCH hsm1']);
    expect(w.azure.hsm('hsm1')?.tags).toEqual(ownerTags(hsm()));
  });

  it('an HSM the operator creates carries the ownership tags from its PUT on: no PATCH afterwards', async () => {
    const w = world();
    await addAppliance(w, 'hsm1');
    const h = dedicatedHsm(w, 'hsm1', { tags: { env: 'prod' } });
    const r1 = await runPass(w, h);
    expect(r1.action?.kind).toBe('create');
    expect(w.azure.hsm('hsm1')?.tags).toEqual({ env: 'prod', ...ownerTags(h) });
    w.azure.completeOperations();
    w.clock.advance(r1.next ?? 0);
    const r2 = await runPass(w, r1.hsm);
    expect(r2.events.map((e) => e.reason)).toEqual(['DeploymentSucceeded']);
    expect(hsmWrites(w)).toEqual(['PUT hsm1']);
  });
});
