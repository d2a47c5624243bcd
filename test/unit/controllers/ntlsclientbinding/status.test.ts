import { describe, expect, it } from 'vitest';
import type { ConditionLike } from '../../../../src/api/index.js';
import { computeStatus, inSyncCondition, registeredCondition, targetStatus, type TargetChecked, type TargetResult } from '../../../../src/controllers/ntlsclientbinding/status.js';

const now = new Date(Date.UTC(2030, 0, 1, 12));
const later = new Date(now.getTime() + 60_000);

const checked = (over: Partial<TargetChecked> = {}): TargetChecked => ({
  hsm: 'hsm1',
  kind: 'checked',
  host: '10.0.2.4',
  observed: { registered: true, hostname: 'app-a', partitions: ['par0'], fingerprint: 'AA:BB' },
  expectedFingerprint: 'AA:BB',
  found: [],
  remaining: [],
  pushed: false,
  serverCertFingerprint: 'SS',
  probe: { ok: true },
  owned: true,
  ...over,
});

const certOk: ConditionLike = { type: 'CertificateValid', status: 'True', reason: 'Valid', message: 'valid' };

describe('registeredCondition', () => {
  it('is True when every target is checked and registered', () => {
    expect(registeredCondition([checked(), checked({ hsm: 'hsm2' })], 'app-a', 'manage')).toMatchObject({ status: 'True', reason: 'Registered', message: expect.stringContaining('hsm1, hsm2') });
  });

  it('names the most urgent target: needs-a-human before retrying before progressing', () => {
    const results: TargetResult[] = [
      { hsm: 'hsm1', kind: 'waiting', message: 'hsm1 waits.' },
      { hsm: 'hsm2', kind: 'notFound' },
      { hsm: 'hsm3', kind: 'deviceError', reason: 'HostKeyMismatch', message: 'hsm3 host key changed.' },
    ];
    const c = registeredCondition(results, 'app-a', 'manage');
    expect(c).toMatchObject({ status: 'False', reason: 'HostKeyMismatch' });
    expect(c.message).toContain('hsm1 waits.');
    expect(c.message).toContain('DedicatedHsm hsm2 does not exist');
    expect(registeredCondition(results.slice(0, 2), 'app-a', 'manage').reason).toBe('TargetNotFound');
  });

  it('reports unrepaired drift in observe mode as Drifted', () => {
    const drift = { reason: 'NotRegistered' as const, kind: 'registration' as const, message: 'client app-a is not registered' };
    const c = registeredCondition([checked({ observed: { registered: false, partitions: [] }, remaining: [drift], probe: undefined })], 'app-a', 'observe');
    expect(c).toMatchObject({ status: 'False', reason: 'Drifted', message: expect.stringContaining('observe mode') });
  });

  it('is Unknown while only waiting for a certificate', () => {
    expect(registeredCondition([{ hsm: 'hsm1', kind: 'noCertificate' }], 'app-a', 'manage')).toMatchObject({ status: 'Unknown', reason: 'Pending' });
  });

  it('reports a removed target that could not be cleaned up', () => {
    expect(registeredCondition([checked(), { hsm: 'old', kind: 'removeFailed', reason: 'ApplianceUnreachable', message: 'down' }], 'app-a', 'manage')).toMatchObject({ status: 'False', reason: 'ApplianceUnreachable' });
  });
});

describe('inSyncCondition', () => {
  it('is True only when the handshake succeeded everywhere', () => {
    expect(inSyncCondition([checked()], 'manage')).toMatchObject({ status: 'True', reason: 'InSync' });
    expect(inSyncCondition([checked({ probe: { ok: false, reason: 'client-not-trusted', message: 'alert unknown ca' } })], 'manage')).toMatchObject({
      status: 'False',
      reason: 'NtlsUnreachable',
      message: expect.stringContaining('client-not-trusted'),
    });
  });
  it('is Drifted while drift remains, Unknown for targets not compared', () => {
    const drift = { reason: 'ServerCertChanged' as const, kind: 'serverCert' as const, message: 'new server cert' };
    expect(inSyncCondition([checked({ remaining: [drift] })], 'observe')).toMatchObject({ status: 'False', reason: 'Drifted' });
    expect(inSyncCondition([{ hsm: 'hsm1', kind: 'notFound' }], 'manage')).toMatchObject({ status: 'Unknown', reason: 'Pending' });
    expect(inSyncCondition([{ hsm: 'hsm1', kind: 'deviceError', reason: 'ApplianceUnreachable', message: 'down' }], 'manage')).toMatchObject({ status: 'False', reason: 'ApplianceUnreachable' });
  });
});

describe('targetStatus', () => {
  it('counts pushes and records drift and push times', () => {
    const drift = { reason: 'FingerprintMismatch' as const, kind: 'clientCert' as const, message: 'other cert' };
    const first = targetStatus(undefined, checked({ pushed: true }), now);
    expect(first).toMatchObject({ dedicatedHsm: 'hsm1', registered: true, pushes: 1, lastPushedAt: '2030-01-01T12:00:00Z', partitions: ['par0'], fingerprintOnHsm: 'AA:BB' });
    expect(first?.lastDrift).toBeUndefined();
    const second = targetStatus(first, checked({ pushed: true, found: [drift] }), later);
    expect(second).toMatchObject({ pushes: 2, lastPushedAt: '2030-01-01T12:01:00Z', lastDrift: { at: '2030-01-01T12:01:00Z', reason: 'FingerprintMismatch', message: 'other cert' } });
    expect(targetStatus(second, checked(), new Date(later.getTime() + 1000))).toEqual(second);
  });
  it('keeps the last known facts when a target could not be read, and drops a cleaned-up one', () => {
    const known = targetStatus(undefined, checked({ pushed: true }), now);
    expect(targetStatus(known, { hsm: 'hsm1', kind: 'deviceError', reason: 'ApplianceUnreachable', message: 'x' }, later)).toEqual(known);
    expect(targetStatus(known, { hsm: 'hsm1', kind: 'removed' }, later)).toBeUndefined();
  });
});

describe('computeStatus', () => {
  const input = (results: TargetResult[]) => ({
    mode: 'manage' as const,
    clientName: 'app-a',
    conditions: [certOk, registeredCondition(results, 'app-a', 'manage'), inSyncCondition(results, 'manage')],
    certificate: { fingerprint: 'CC', notAfter: '2030-03-01T00:00:00Z', secretName: 'app-a-tls' },
    results,
    outputSecretName: 'app-a-ntls',
  });

  it('rolls Ready up and moves lastCheckedAt only with another change (steady state writes nothing)', () => {
    const a = computeStatus(undefined, input([checked({ pushed: true })]), 1, now);
    expect(a.ready).toMatchObject({ status: 'True', reason: 'Ready' });
    expect(a.status.lastCheckedAt).toBe('2030-01-01T12:00:00Z');
    const b = computeStatus(a.status, input([checked()]), 1, later);
    expect(b.status).toEqual(a.status);
    const c = computeStatus(b.status, input([checked({ probe: { ok: false, reason: 'timeout', message: 'slow' } })]), 1, later);
    expect(c.status.lastCheckedAt).toBe('2030-01-01T12:01:00Z');
    expect(c.ready).toMatchObject({ status: 'False', reason: 'NtlsUnreachable', severity: 'retrying' });
  });

  it('in observe mode: Observing when all is well, Stalled on drift it will not repair', () => {
    const drift = { reason: 'PartitionMissing' as const, kind: 'partitions' as const, message: 'partition par0 not assigned' };
    const ok = computeStatus(undefined, { ...input([checked()]), mode: 'observe' }, 1, now);
    expect(ok.ready).toMatchObject({ status: 'True', reason: 'Observing' });
    const results = [checked({ remaining: [drift], probe: undefined })];
    const drifted = computeStatus(undefined, { ...input(results), mode: 'observe', conditions: [certOk, registeredCondition(results, 'app-a', 'observe'), inSyncCondition(results, 'observe')] }, 1, now);
    expect(drifted.ready).toMatchObject({ status: 'False', reason: 'Drifted', severity: 'needsHuman' });
    expect(drifted.status.conditions?.find((c) => c.type === 'Stalled')?.status).toBe('True');
  });
});
