/**
 * The readiness chain: appliance facts become conditions, and Ready (with Reconciling/Stalled) rolls up from all of
 * them in the kind's order: Ready only when Azure and the appliance are both good.
 */
import { describe, expect, it } from 'vitest';
import type { ConditionLike } from '../../../../src/api/index.js';
import { applianceChecks, mergeApplianceStatus, type ApplianceFacts, type ApplianceObservation } from '../../../../src/controllers/dedicatedhsm/appliance-checks.js';
import { NOT_BLOCKED } from '../../../../src/controllers/dedicatedhsm/deletion.js';
import { QUOTA_HELD } from '../../../../src/controllers/dedicatedhsm/preflight.js';
import { report } from '../../../../src/controllers/shared/index.js';

const now = new Date('2025-03-01T10:00:00Z');
const facts = (o: Partial<ApplianceFacts> = {}): ApplianceFacts => ({
  show: { serial: '572413', softwareVersion: '7.2.0-220', firmware: '7.0.3', model: 'Luna K7', zeroized: false, soLoginAttemptsLeft: 3, partitions: [] },
  rebootPatchInstalled: true,
  serverCert: { sha256: 'AB:CD', notAfter: new Date('2030-01-01T00:00:00.000Z') },
  hostKeyFingerprint: 'SHA256:abc',
  ...o,
});
const obs = (o: Partial<ApplianceObservation> = {}): ApplianceObservation => ({ ssh: { kind: 'ok', facts: facts() }, ntls: { kind: 'reachable' }, host: '10.0.2.4', sshPort: 22, ntlsPort: 1792, ...o });

const azureGood: ConditionLike[] = [
  NOT_BLOCKED,
  { type: 'SubnetDelegated', status: 'True', reason: 'Delegated', message: '' },
  { type: 'GatewayReady', status: 'True', reason: 'GatewaySucceeded', message: '' },
  QUOTA_HELD,
  { type: 'Provisioned', status: 'True', reason: 'Succeeded', message: '' },
];
const ready = (cs: ConditionLike[]) => {
  const r = report('DedicatedHsm', [], cs, 1, now);
  const get = (t: string) => r.conditions.find((c) => c.type === t);
  return { ready: get('Ready'), reconciling: get('Reconciling')?.status, stalled: get('Stalled')?.status };
};

describe('applianceChecks', () => {
  it('a good appliance: reachable, patched, NTLS answering; facts for status', () => {
    const c = applianceChecks(obs());
    expect(c.conditions.map((x) => [x.type, x.status, x.reason])).toEqual([
      ['ApplianceReachable', 'True', 'Reachable'],
      ['RebootPatchInstalled', 'True', 'PatchInstalled'],
      ['NtlsReachable', 'True', 'Reachable'],
    ]);
    expect(c.appliance).toEqual({
      serial: '572413',
      softwareVersion: '7.2.0-220',
      firmwareVersion: '7.0.3',
      model: 'Luna K7',
      zeroized: false,
      soAttemptsLeft: 3,
      rebootPatchInstalled: true,
      ntlsServerCertFingerprint: 'AB:CD',
      ntlsServerCertNotAfter: '2030-01-01T00:00:00Z',
      hostKeyFingerprint: 'SHA256:abc',
    });
  });

  it('the reboot patch missing: the guide advice (before any configuration; 48 h hard reboot)', () => {
    const c = applianceChecks(obs({ ssh: { kind: 'ok', facts: facts({ rebootPatchInstalled: false }) } })).conditions.find((x) => x.type === 'RebootPatchInstalled');
    expect(c).toMatchObject({ status: 'False', reason: 'RebootPatchMissing' });
    expect(c?.message).toMatch(/KB0019789.*before any configuration.*48 hours/);
  });

  it('device problems map to ApplianceReachable reasons; nothing is claimed about the patch then', () => {
    const rejected = applianceChecks(obs({ ssh: { kind: 'failed', problem: { reason: 'CredentialRejected', message: 'update the Secret', needsHuman: true } } }));
    expect(rejected.conditions.map((x) => [x.type, x.reason])).toEqual([
      ['ApplianceReachable', 'CredentialRejected'],
      ['NtlsReachable', 'Reachable'],
    ]);
    expect(rejected.appliance).toBeUndefined();
    const failed = applianceChecks(obs({ ssh: { kind: 'failed', problem: { reason: 'CommandFailed', message: 'x', needsHuman: false } } }));
    expect(failed.conditions[0]?.reason).toBe('ApplianceUnreachable');
    const noSecret = applianceChecks(obs({ ssh: { kind: 'unavailable', reason: 'SecretNotFound', message: 'create it' } }));
    expect(noSecret.conditions[0]).toMatchObject({ status: 'False', reason: 'SecretNotFound' });
    const noIp = applianceChecks(obs({ ssh: { kind: 'unavailable', reason: 'NotProvisioned', message: 'no IP yet' }, ntls: { kind: 'unknown' }, host: undefined }));
    expect(noIp.conditions.map((x) => [x.status, x.reason])).toEqual([
      ['Unknown', 'Pending'],
      ['Unknown', 'Pending'],
    ]);
  });

  it('NTLS closed: the guide says TCP 1792 at a minimum', () => {
    const c = applianceChecks(obs({ ntls: { kind: 'unreachable', message: 'ECONNREFUSED' } })).conditions.find((x) => x.type === 'NtlsReachable');
    expect(c).toMatchObject({ status: 'False', reason: 'NtlsUnreachable' });
    expect(c?.message).toContain('TCP 1792');
  });

  it('observedAt moves only when a fact changed', () => {
    const a = applianceChecks(obs()).appliance;
    if (!a) throw new Error('no facts');
    const first = mergeApplianceStatus(undefined, a, now);
    expect(first.observedAt).toBe('2025-03-01T10:00:00Z');
    const later = new Date('2025-03-01T11:00:00Z');
    expect(mergeApplianceStatus(first, a, later)).toEqual(first);
    expect(mergeApplianceStatus(first, { ...a, rebootPatchInstalled: false }, later).observedAt).toBe('2025-03-01T11:00:00Z');
  });

  it('nested facts compare by value: the API server hands credentialAccepted back with its keys sorted', () => {
    const a = applianceChecks(obs({ ssh: { kind: 'ok', facts: facts({ credential: { uid: 'u-1', resourceVersion: '42', name: 'ns/hsm1-appliance' } }) } })).appliance;
    if (!a) throw new Error('no facts');
    expect(a.credentialAccepted).toEqual({ secretUid: 'u-1', resourceVersion: '42', secretName: 'ns/hsm1-appliance' });
    const first = mergeApplianceStatus(undefined, a, now);
    // As read back: nested keys in another order.
    const stored = { ...first, credentialAccepted: { resourceVersion: '42', secretName: 'ns/hsm1-appliance', secretUid: 'u-1' } };
    expect(mergeApplianceStatus(stored, a, new Date('2025-03-01T11:00:00Z')).observedAt).toBe(first.observedAt);
    // A new Secret version is a new fact.
    const rotated = applianceChecks(obs({ ssh: { kind: 'ok', facts: facts({ credential: { uid: 'u-1', resourceVersion: '43', name: 'ns/hsm1-appliance' } }) } })).appliance;
    if (!rotated) throw new Error('no facts');
    expect(mergeApplianceStatus(stored, rotated, new Date('2025-03-01T11:00:00Z')).observedAt).toBe('2025-03-01T11:00:00Z');
  });
});

describe('the readiness chain', () => {
  it('Ready only when Azure and the appliance are both good', () => {
    expect(ready([...azureGood, ...applianceChecks(obs()).conditions])).toMatchObject({ ready: { status: 'True', reason: 'Ready' }, reconciling: 'False', stalled: 'False' });
  });

  it('a good appliance does not make up for Azure: the first failing check in order decides', () => {
    const waiting = azureGood.map((c) => (c.type === 'GatewayReady' ? { ...c, status: 'False' as const, reason: 'WaitingForGateway', message: 'Updating' } : c));
    expect(ready([...waiting, ...applianceChecks(obs()).conditions])).toMatchObject({ ready: { status: 'False', reason: 'WaitingForGateway' }, reconciling: 'True', stalled: 'False' });
  });

  it('a deployed HSM whose appliance is not checked yet is not Ready', () => {
    expect(ready(azureGood).ready).toMatchObject({ status: 'Unknown', reason: 'Pending' });
  });

  it('needs-a-human appliance problems stall; transient ones reconcile', () => {
    const patch = applianceChecks(obs({ ssh: { kind: 'ok', facts: facts({ rebootPatchInstalled: false }) } })).conditions;
    expect(ready([...azureGood, ...patch])).toMatchObject({ ready: { reason: 'RebootPatchMissing' }, stalled: 'True' });
    const rejected = applianceChecks(obs({ ssh: { kind: 'failed', problem: { reason: 'CredentialRejected', message: 'm', needsHuman: true } } })).conditions;
    expect(ready([...azureGood, ...rejected])).toMatchObject({ ready: { reason: 'CredentialRejected' }, stalled: 'True' });
    const down = applianceChecks(obs({ ssh: { kind: 'failed', problem: { reason: 'ApplianceUnreachable', message: 'm', needsHuman: false } } })).conditions;
    expect(ready([...azureGood, ...down])).toMatchObject({ ready: { reason: 'ApplianceUnreachable' }, reconciling: 'True', stalled: 'False' });
    const ntls = applianceChecks(obs({ ntls: { kind: 'unreachable', message: 'ETIMEDOUT' } })).conditions;
    expect(ready([...azureGood, ...ntls])).toMatchObject({ ready: { reason: 'NtlsUnreachable' }, reconciling: 'True' });
  });

  it('a deletion block comes first', () => {
    const blocked: ConditionLike = { type: 'DeletionBlocked', status: 'True', reason: 'DeletionBlocked', message: 'zeroize first' };
    expect(ready([...azureGood, ...applianceChecks(obs()).conditions, blocked])).toMatchObject({ ready: { reason: 'DeletionBlocked' }, stalled: 'True' });
  });
});
