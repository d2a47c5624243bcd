/** The condition vocabulary is complete and consistent; the roll-up picks the first failing check; kstatus follows severity. */
import { describe, expect, it } from 'vitest';
import {
  CONDITIONS,
  COMMON_CONDITION_TYPES,
  READY_CHECKS,
  REASONS,
  SEVERITIES,
  conditionTypes,
  deriveKstatus,
  readyReasons,
  rollUpReady,
  severityOf,
  type ConditionInfo,
  type ConditionKind,
  type ConditionLike,
  type Verdict,
} from '../../../src/api/index.js';

const kinds = Object.keys(CONDITIONS) as ConditionKind[];
const tables = kinds.map((k) => [k, CONDITIONS[k] as Record<string, ConditionInfo>] as const);

describe('vocabulary', () => {
  it('every reason has a severity from the four, a meaning, and metav1 reason syntax in CamelCase', () => {
    for (const [reason, info] of Object.entries(REASONS)) {
      expect(SEVERITIES, reason).toContain(info.severity);
      expect(info.meaning.length, reason).toBeGreaterThan(10);
      expect(reason).toMatch(/^[A-Z][a-z0-9]+([A-Z][a-z0-9]*)*$/);
    }
  });

  it('holds the reasons the controllers are specified to use', () => {
    const expected = [
      'WaitingForGateway', 'DeploymentRace', 'QuotaExceeded', 'CapacityExhausted', 'SubnetNotDelegated', 'NotAllowlisted',
      'InvalidSpec', 'CredentialRejected', 'HostKeyMismatch', 'ApplianceUnreachable', 'RebootPatchMissing', 'DeletionBlocked',
      'Zeroizing', 'Deleting', 'Paused', 'Observing', 'TargetNotFound', 'CertificateExpired', 'CertificateExpiring', 'Drifted',
      'Repushing', 'MemberDown', 'Recovering', 'RecoveryCircuitOpen', 'CloningDomainMismatch',
    ];
    for (const r of expected) expect(severityOf(r), r).toBeDefined();
    expect(severityOf('NoSuchReason')).toBeUndefined();
    // Guard against prototype keys being read as reasons.
    expect(severityOf('toString')).toBeUndefined();
  });

  it('severities put the failures where a human must act', () => {
    for (const r of ['QuotaExceeded', 'CapacityExhausted', 'SubnetNotDelegated', 'NotAllowlisted', 'CredentialRejected', 'HostKeyMismatch', 'RecoveryCircuitOpen', 'CloningDomainMismatch', 'DeletionBlocked']) {
      expect(severityOf(r), r).toBe('needsHuman');
    }
    for (const r of ['DeploymentRace', 'ApplianceUnreachable', 'Drifted', 'MemberDown', 'Throttled']) expect(severityOf(r), r).toBe('retrying');
    for (const r of ['WaitingForGateway', 'Provisioning', 'Zeroizing', 'Deleting', 'Repushing', 'Recovering']) expect(severityOf(r), r).toBe('progressing');
  });

  it('condition types per kind are the specified ones, plus Ready, Reconciling, Stalled', () => {
    expect(conditionTypes('DedicatedHsm')).toEqual([
      'SubnetDelegated', 'GatewayReady', 'QuotaAvailable', 'Provisioned', 'ApplianceReachable', 'NtlsReachable', 'RebootPatchInstalled', 'DeletionBlocked',
      'Ready', 'Reconciling', 'Stalled',
    ]);
    expect(conditionTypes('NtlsClientBinding')).toEqual(['CertificateValid', 'Registered', 'InSync', 'Ready', 'Reconciling', 'Stalled']);
    expect(conditionTypes('HsmHaGroup')).toEqual(['MembersHealthy', 'AutoRecoveryConfigured', 'CloningDomainConsistent', 'Ready', 'Reconciling', 'Stalled']);
  });

  it.each(tables)('%s: each condition lists known reasons, none twice, exactly one happy one', (_kind, table) => {
    for (const [type, info] of Object.entries(table)) {
      for (const r of info.reasons) expect(REASONS, `${type}: ${r}`).toHaveProperty(r);
      expect(new Set(info.reasons).size, `${type} lists a reason twice`).toBe(info.reasons.length);
      const happy = info.reasons.filter((r) => REASONS[r].severity === 'ready');
      expect(happy, type).toHaveLength(1);
    }
  });

  it('every reason is used by some condition (no dead vocabulary)', () => {
    const used = new Set<string>(kinds.flatMap((k) => readyReasons(k)));
    expect(Object.keys(REASONS).filter((r) => !used.has(r))).toEqual([]);
  });

  it.each(kinds)('%s: Ready checks are the kind\'s own condition types, each once', (kind) => {
    const types = READY_CHECKS[kind].map((c) => c.type);
    expect(new Set(types).size).toBe(types.length);
    expect(types.sort()).toEqual(Object.keys(CONDITIONS[kind]).sort());
    for (const t of COMMON_CONDITION_TYPES) expect(types).not.toContain(t);
  });
});

const ok = (type: string, reason: string): ConditionLike => ({ type, status: 'True', reason, message: `${type} fine` });
const bad = (type: string, reason: string, message = `${type} failed`): ConditionLike => ({ type, status: 'False', reason, message });

describe('rollUpReady', () => {
  const order = READY_CHECKS.DedicatedHsm;
  const allGood: ConditionLike[] = [
    ok('SubnetDelegated', 'Delegated'),
    ok('GatewayReady', 'GatewaySucceeded'),
    ok('QuotaAvailable', 'WithinQuota'),
    ok('Provisioned', 'Succeeded'),
    ok('ApplianceReachable', 'Reachable'),
    ok('NtlsReachable', 'Reachable'),
    ok('RebootPatchInstalled', 'PatchInstalled'),
  ];

  it('is True with reason Ready when every check passes (an absent abnormal-true check passes)', () => {
    expect(rollUpReady(allGood, order)).toEqual({ status: 'True', reason: 'Ready', message: 'All checks passed.', severity: 'ready' });
    expect(rollUpReady(allGood, order, { reason: 'Observing', message: 'Observe mode.' })).toMatchObject({ status: 'True', reason: 'Observing' });
  });

  it('takes reason and message from the first failing check in order, not the first in the list', () => {
    const conditions = allGood.map((c) =>
      c.type === 'NtlsReachable' ? bad('NtlsReachable', 'NtlsUnreachable') : c.type === 'GatewayReady' ? bad('GatewayReady', 'WaitingForGateway', 'Gateway hsm-ergw is Updating; waiting 2m.') : c,
    );
    conditions.reverse();
    expect(rollUpReady(conditions, order)).toEqual({ status: 'False', reason: 'WaitingForGateway', message: 'Gateway hsm-ergw is Updating; waiting 2m.', severity: 'progressing' });
  });

  it('a deletion block outranks everything', () => {
    const conditions = [...allGood.map((c) => (c.type === 'Provisioned' ? bad('Provisioned', 'QuotaExceeded') : c)), { type: 'DeletionBlocked', status: 'True' as const, reason: 'DeletionBlocked', message: 'Set the confirm-zeroize annotation.' }];
    expect(rollUpReady(conditions, order)).toMatchObject({ status: 'False', reason: 'DeletionBlocked', severity: 'needsHuman' });
  });

  it('a check never reported makes Ready Unknown/Pending', () => {
    const conditions = allGood.filter((c) => c.type !== 'QuotaAvailable');
    expect(rollUpReady(conditions, order)).toEqual({ status: 'Unknown', reason: 'Pending', message: 'QuotaAvailable has not been checked yet.', severity: 'progressing' });
  });

  it('an Unknown check makes Ready Unknown with its reason', () => {
    const conditions = allGood.map((c) => (c.type === 'ApplianceReachable' ? { ...c, status: 'Unknown' as const, reason: 'ApplianceUnreachable', message: 'timeout' } : c));
    expect(rollUpReady(conditions, order)).toEqual({ status: 'Unknown', reason: 'ApplianceUnreachable', message: 'timeout', severity: 'retrying' });
  });

  it('never reports a failing check as ready, and treats unknown reasons as transient', () => {
    const slip = allGood.map((c) => (c.type === 'SubnetDelegated' ? { ...c, status: 'False' as const } : c));
    expect(rollUpReady(slip, order)).toMatchObject({ status: 'False', reason: 'Delegated', severity: 'progressing' });
    const foreign = allGood.map((c) => (c.type === 'SubnetDelegated' ? bad('SubnetDelegated', 'SomethingNew') : c));
    expect(rollUpReady(foreign, order)).toMatchObject({ status: 'False', reason: 'SomethingNew', severity: 'retrying' });
  });

  it('no Azure credential: the refused first read wins over the checks before it that never ran', () => {
    // The DedicatedHsm controller reads the HSM first; with no usable identity that read fails and nothing else runs.
    const conditions: ConditionLike[] = [
      { type: 'DeletionBlocked', status: 'False', reason: 'NotBlocked', message: 'Nothing blocks deletion.' },
      { type: 'Provisioned', status: 'Unknown', reason: 'AuthorizationFailed', message: 'Could not read HSM hsm1: CredentialUnavailableError.' },
    ];
    const ready = rollUpReady(conditions, order);
    expect(ready).toEqual({ status: 'Unknown', reason: 'AuthorizationFailed', message: 'Could not read HSM hsm1: CredentialUnavailableError.', severity: 'needsHuman' });
    expect(deriveKstatus(ready)).toMatchObject({ stalled: { status: 'True', reason: 'AuthorizationFailed' }, reconciling: { status: 'False' } });
  });

  it('a known failure wins over a check not run yet: False, or Unknown with a retrying or needsHuman reason', () => {
    const only = (c: ConditionLike) => rollUpReady([c], order);
    expect(only(bad('QuotaAvailable', 'QuotaExceeded'))).toMatchObject({ status: 'False', reason: 'QuotaExceeded', severity: 'needsHuman' });
    expect(only(bad('GatewayReady', 'WaitingForGateway'))).toMatchObject({ status: 'False', reason: 'WaitingForGateway', severity: 'progressing' });
    expect(only({ type: 'ApplianceReachable', status: 'Unknown', reason: 'ApplianceUnreachable', message: 'timeout' })).toMatchObject({ status: 'Unknown', reason: 'ApplianceUnreachable', severity: 'retrying' });
    expect(only({ type: 'NtlsReachable', status: 'Unknown', reason: 'SomethingNew', message: 'x' })).toMatchObject({ reason: 'SomethingNew', severity: 'retrying' });
    // Unknown with a progressing reason is not known yet: the first check not run still decides.
    expect(only({ type: 'Provisioned', status: 'Unknown', reason: 'Pending', message: 'Not deployed yet.' })).toEqual({
      status: 'Unknown',
      reason: 'Pending',
      message: 'SubnetDelegated has not been checked yet.',
      severity: 'progressing',
    });
  });

  it('among known failures the order still decides, whatever their severities', () => {
    const conditions = [bad('RebootPatchInstalled', 'RebootPatchMissing'), { type: 'GatewayReady', status: 'Unknown' as const, reason: 'Throttled', message: '429' }];
    expect(rollUpReady(conditions, order)).toMatchObject({ status: 'Unknown', reason: 'Throttled', severity: 'retrying' });
  });

  it('without a known failure, an Unknown not-known-yet check earlier in order wins over a later check never reported', () => {
    const conditions = allGood.filter((c) => c.type !== 'NtlsReachable').map((c) => (c.type === 'ApplianceReachable' ? { ...c, status: 'Unknown' as const, reason: 'Pending', message: 'no IP yet' } : c));
    expect(rollUpReady(conditions, order)).toMatchObject({ status: 'Unknown', reason: 'Pending', message: 'no IP yet' });
  });

  it('works on the other kinds\' orders', () => {
    expect(rollUpReady([ok('CertificateValid', 'Valid'), bad('Registered', 'TargetNotFound'), bad('InSync', 'Drifted')], READY_CHECKS.NtlsClientBinding)).toMatchObject({ reason: 'TargetNotFound' });
    expect(
      rollUpReady([ok('MembersHealthy', 'Healthy'), bad('CloningDomainConsistent', 'CloningDomainMismatch'), ok('AutoRecoveryConfigured', 'Configured')], READY_CHECKS.HsmHaGroup),
    ).toMatchObject({ reason: 'CloningDomainMismatch', severity: 'needsHuman' });
  });
});

describe('deriveKstatus', () => {
  const verdict = (severity: Verdict['severity'], status: Verdict['status'] = 'False'): Verdict => ({ status, reason: 'R', message: 'm', severity });
  it.each([
    ['ready', 'True', 'False', 'False'],
    ['progressing', 'False', 'True', 'False'],
    ['retrying', 'Unknown', 'True', 'False'],
    ['needsHuman', 'False', 'False', 'True'],
  ] as const)('%s (Ready %s): Reconciling %s, Stalled %s', (severity, readyStatus, reconciling, stalled) => {
    const k = deriveKstatus(verdict(severity, readyStatus));
    expect(k.reconciling).toEqual({ type: 'Reconciling', status: reconciling, reason: 'R', message: 'm' });
    expect(k.stalled).toEqual({ type: 'Stalled', status: stalled, reason: 'R', message: 'm' });
  });
});
