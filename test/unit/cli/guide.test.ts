/** Every failure reason maps to the guide section and an action; explain-failure's pure rendering says it all. */
import { describe, expect, it } from 'vitest';
import { REASONS, type DedicatedHsm } from '../../../src/api/index.js';
import { explain } from '../../../src/cli/explain-failure.js';
import { explainReason, GUIDE } from '../../../src/cli/guide.js';
import type { EventObject } from '../../../src/runtime/index.js';

/** Headings of seeds/dedicated-hsm-troubleshooting.txt (plus the operator's own rules). */
const GUIDE_SECTIONS = [
  'Getting access to Dedicated HSM',
  'HSM Provisioning',
  'HSM Deployment Failure Information',
  'HSM Subnet Delegation',
  'HSM Deployment Race Condition',
  'Deployment failure based on quota',
  'Deployment failure based on capacity',
  'How do I see HSMs when provisioned?',
  'Provisioning ExpressRoute',
  'HSM Initialization',
  'Lost Credentials',
  'Failed Logins',
  'HSM Networking Configuration',
  'HSM Device Reboot',
  'NTLS Certificates out of sync',
  'Failed TCP Communication',
  "Failed HA Group Member Doesn't Recover",
  "HA Group Doesn't Sync",
  'How to delete an HSM resource',
  'hsm-operator',
];

describe('guide table', () => {
  it('has advice for every reason that is not a happy one, and none for happy ones', () => {
    for (const [reason, info] of Object.entries(REASONS)) {
      const advice = (GUIDE as Record<string, { section: string; action: string } | undefined>)[reason];
      if (info.severity === 'ready') expect(advice, reason).toBeUndefined();
      else {
        expect(advice, `${reason} needs an entry in src/cli/guide.ts`).toBeDefined();
        expect(advice?.action.length, reason).toBeGreaterThan(20);
      }
    }
  });

  it('names only real sections of the troubleshooting guide', () => {
    for (const [reason, advice] of Object.entries(GUIDE)) expect(GUIDE_SECTIONS, reason).toContain(advice?.section);
  });

  it('explains a reason: class, meaning and advice', () => {
    const q = explainReason('QuotaExceeded');
    expect(q.severity).toBe('needsHuman');
    expect(q.failureClass).toMatch(/needs a human/);
    expect(q.meaning).toBe(REASONS.QuotaExceeded.meaning);
    expect(q.advice?.section).toBe('Deployment failure based on quota');
    expect(explainReason('DeploymentRace').failureClass).toMatch(/retrying/);
    const unknown = explainReason('SomethingNew');
    expect(unknown.severity).toBeUndefined();
    expect(unknown.advice).toBeUndefined();
    expect(unknown.failureClass).toMatch(/unknown/);
    expect(explainReason('toString').advice).toBeUndefined();
  });
});

const hsm = (ready: { status: string; reason: string; message: string }, extra: Partial<DedicatedHsm['status']> = {}): DedicatedHsm =>
  ({
    apiVersion: 'dedicatedhsm.io/v1alpha1',
    kind: 'DedicatedHsm',
    metadata: { name: 'hsm-eastus-1', namespace: 'ns', generation: 1, uid: 'u1' },
    spec: { azure: { stampId: 'stamp1' } },
    status: {
      observedGeneration: 1,
      conditions: [
        { type: 'SubnetDelegated', status: 'True', reason: 'Delegated', message: 'ok', lastTransitionTime: '2024-01-01T00:00:00Z' },
        { type: 'QuotaAvailable', status: ready.status === 'True' ? 'True' : 'False', reason: ready.reason, message: ready.message, lastTransitionTime: '2024-01-01T00:00:00Z' },
        { type: 'Ready', ...ready, lastTransitionTime: '2024-01-01T00:00:00Z' },
      ],
      ...extra,
    },
  }) as unknown as DedicatedHsm;

const event = (reason: string, note: string, at: string, count?: number): EventObject => ({
  metadata: { name: reason },
  eventTime: at,
  reportingController: 'x',
  reportingInstance: 'y',
  action: 'Reconcile',
  reason,
  note,
  type: 'Warning',
  regarding: { kind: 'DedicatedHsm', name: 'hsm-eastus-1' },
  ...(count ? { series: { count, lastObservedTime: at } } : {}),
});

describe('explain-failure rendering', () => {
  const now = Date.parse('2024-01-01T00:10:00Z');

  it('says the class, the meaning, the guide section, the action, the last Azure failure and the events', () => {
    const text = explain(
      hsm(
        { status: 'False', reason: 'QuotaExceeded', message: 'Quota of stamp1 is used by hsm-failed-1, hsm-failed-2.' },
        { lastFailure: { class: 'QuotaExceeded', code: 'QuotaExceeded', message: 'Operation results in exceeding quota', time: '2024-01-01T00:05:00Z' } },
      ),
      [event('QuotaExceeded', 'Quota used by failed leftovers', '2024-01-01T00:09:00Z', 3)],
      now,
    );
    expect(text).toContain('DedicatedHsm ns/hsm-eastus-1');
    expect(text).toContain('Ready: False, reason QuotaExceeded - needs a human');
    expect(text).toContain('hsm-failed-1, hsm-failed-2');
    expect(text).toContain(`What it means: ${REASONS.QuotaExceeded.meaning}`);
    expect(text).toContain('Guide: "Deployment failure based on quota"');
    expect(text).toContain('What to do: Delete the failed leftovers');
    expect(text).toContain('Last Azure failure: QuotaExceeded (QuotaExceeded), 5m ago');
    expect(text).toMatch(/✗ QuotaAvailable\s+False\s+QuotaExceeded/);
    expect(text).toMatch(/60s ago\s+Warning\s+QuotaExceeded \(x3\): Quota used by failed leftovers/);
  });

  it('has nothing to explain for a Ready object, and says so when no status exists', () => {
    expect(explain(hsm({ status: 'True', reason: 'Ready', message: 'All checks passed.' }), [], now)).toContain('Nothing to explain');
    const bare = { ...hsm({ status: 'True', reason: 'Ready', message: '' }), status: undefined } as DedicatedHsm;
    expect(explain(bare, [], now)).toContain('Ready: not reported yet');
  });
});
