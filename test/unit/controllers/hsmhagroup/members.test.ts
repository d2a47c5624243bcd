/** The group's shape: create with the first member, add the rest, remove undeclared members only when safe. */
import { describe, expect, it } from 'vitest';
import type { HaGroupInfo } from '../../../../src/luna/index.js';
import { needsPassword, planShape, shapeNeedsReachability, type DeclaredMember, type Reachability } from '../../../../src/controllers/hsmhagroup/members.js';

const m = (index: number, hsm: string, serial?: string, extra: Partial<DeclaredMember> = {}): DeclaredMember => ({ index, hsm, ...(serial ? { serial } : {}), ...extra });

function group(serials: string[]): HaGroupInfo {
  return {
    label: 'g',
    memberSerials: serials,
    standbyMembers: [],
    members: serials.map((serial) => ({ serial, status: 'alive' })),
    cloningConflicts: [],
  };
}

const allUp: Reachability = new Map();

describe('planShape', () => {
  it('creates the group with the first member, then adds the others in spec order', () => {
    const plan = planShape([m(0, 'hsm1', '11'), m(1, 'hsm2', '22'), m(2, 'hsm3', '33')], undefined, allUp);
    expect(plan.actions.map((a) => [a.kind, a.serial])).toEqual([
      ['create', '11'],
      ['add', '22'],
      ['add', '33'],
    ]);
    expect(plan.waiting).toEqual([]);
  });

  it('waits for the primary: a group is never started with another member', () => {
    const problem = { reason: 'WaitingForDedicatedHsm' as const, message: 'partition par0 cannot be looked up yet' };
    const plan = planShape([m(0, 'hsm1', undefined, { label: 'par0', problem }), m(1, 'hsm2', '22')], undefined, allUp);
    expect(plan.actions).toEqual([]);
    expect(plan.waiting.map((w) => [w.member.hsm, w.problem.reason])).toEqual([
      ['hsm1', 'WaitingForDedicatedHsm'],
      ['hsm2', 'WaitingForDedicatedHsm'],
    ]);
    expect(plan.waiting[0]?.problem.message).toContain('cannot be looked up');
    expect(plan.waiting[1]?.problem.message).toContain('primary member');
  });

  it('does not create the group while the primary appliance is unreachable', () => {
    const plan = planShape([m(0, 'hsm1', '11'), m(1, 'hsm2', '22')], undefined, new Map([['hsm1', { reachable: false, message: 'TCP connect failed: ECONNREFUSED' }]]));
    expect(plan.actions).toEqual([]);
    expect(plan.waiting[0]?.problem).toEqual({ reason: 'WaitingForDedicatedHsm', message: 'the appliance of DedicatedHsm hsm1 is unreachable (TCP connect failed: ECONNREFUSED)' });
  });

  it('adds a member whose appliance answers and leaves one whose appliance is down for later', () => {
    const plan = planShape([m(0, 'hsm1', '11'), m(1, 'hsm2', '22'), m(2, 'hsm3', '33')], group(['11']), new Map([['hsm3', { reachable: false }]]));
    expect(plan.actions.map((a) => [a.kind, a.serial])).toEqual([['add', '22']]);
    expect(plan.waiting.map((w) => w.member.hsm)).toEqual(['hsm3']);
  });

  it('adds before it removes (the cloning-domain fix: new partition in, then the wrong one out)', () => {
    const plan = planShape([m(0, 'hsm1', '11'), m(1, 'hsm2', '23')], group(['11', '22']), allUp);
    expect(plan.actions.map((a) => [a.kind, a.serial])).toEqual([
      ['add', '23'],
      ['remove', '22'],
    ]);
  });

  it('never removes a member while some declared member is unresolved (it might be that one)', () => {
    const plan = planShape([m(0, 'hsm1', '11'), m(1, 'hsm2', undefined, { label: 'par0', problem: { reason: 'WaitingForDedicatedHsm', message: 'x' } })], group(['11', '22']), allUp);
    expect(plan.actions).toEqual([]);
    expect(plan.removalsHeld).toEqual(['22']);
  });

  it('is empty when the group holds exactly the declared members', () => {
    expect(planShape([m(0, 'hsm1', '11'), m(1, 'hsm2', '22')], group(['22', '11']), allUp)).toEqual({ actions: [], waiting: [], removalsHeld: [] });
  });

  it('adds a partition named twice (label and serial of one partition) once', () => {
    const plan = planShape([m(0, 'hsm1', '11'), m(1, 'hsm2', '22', { label: 'par0' }), m(2, 'hsm2', '22')], group(['11']), allUp);
    expect(plan.actions.map((a) => [a.kind, a.serial])).toEqual([['add', '22']]);
  });

  it('does not add a member whose DedicatedHsm does not exist, even with a declared serial', () => {
    const plan = planShape([m(0, 'hsm1', '11'), m(1, 'gone', '22', { problem: { reason: 'TargetNotFound', message: 'DedicatedHsm ns/gone does not exist' } })], group(['11']), allUp);
    expect(plan.actions).toEqual([]);
    expect(plan.waiting[0]?.problem.reason).toBe('TargetNotFound');
  });
});

describe('shapeNeedsReachability', () => {
  it('asks only about the appliances of members that would be created or added', () => {
    expect(shapeNeedsReachability([m(0, 'hsm1', '11'), m(1, 'hsm2', '22'), m(2, 'hsm3', '33')], group(['11', '22']))).toEqual(['hsm3']);
    expect(shapeNeedsReachability([m(0, 'hsm1', '11'), m(1, 'hsm2', '22')], undefined)).toEqual(['hsm1', 'hsm2']);
    expect(shapeNeedsReachability([m(0, 'hsm1', '11'), m(1, 'hsm2', '22')], group(['11', '22']))).toEqual([]);
  });
});

describe('needsPassword', () => {
  it('is true for creategroup and addmember, false for removemember only', () => {
    expect(needsPassword([{ kind: 'remove', serial: '1' }])).toBe(false);
    expect(needsPassword([{ kind: 'add', serial: '1', member: m(1, 'h', '1') }])).toBe(true);
    expect(needsPassword([{ kind: 'create', serial: '1', member: m(0, 'h', '1') }])).toBe(true);
  });
});
