/**
 * The reconcile skeleton on the real API server, with a scripted kind (no planes): the order of its phases, the one
 * report per pass, triggers by value (recorded before acting, the annotation never edited), the write-ahead
 * checkpoint, the error policy and the finalizer dispatch, counted at the API server (resourceVersions, managedFields)
 * and in the Event recorder.
 */
import { Registry } from 'prom-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Annotations, FINALIZER, GROUP, VERSION, type NtlsClientBinding, type NtlsClientBindingStatus } from '../../../../src/api/index.js';
import { NtlsClientBindingType } from '../../../../src/controllers/ntlsclientbinding/index.js';
import { reconcilerFor, type CleanupOutcome, type KindSpec, type OperatorContext, type Pass, type Step } from '../../../../src/controllers/shared/index.js';
import { createHsmMetrics } from '../../../../src/observability/hsm-metrics.js';
import { AbortedError, Manager, realClock, RetryableError, silentLogger, type ReconcileContext, type ReconcileOutcome } from '../../../../src/runtime/index.js';
import { adminConfig, createNamespace } from '../../../support/kube.js';

type Binding = NtlsClientBinding;
type Status = NtlsClientBindingStatus;

interface Script {
  apply?: (b: Binding, pass: Pass<Status>, step: Step<Binding>) => Promise<ReconcileOutcome>;
  cleanup?: (b: Binding, pass: Pass<Status>, step: Step<Binding>) => Promise<CleanupOutcome>;
}

describe('the reconcile skeleton', () => {
  let ns: string;
  let manager: Manager;
  const events: { reason: string; note: string }[] = [];
  const phases: string[] = [];
  let script: Script = {};

  beforeAll(async () => {
    ns = await createNamespace('skeleton');
    manager = new Manager({ kubeConfig: adminConfig(), log: silentLogger, metricsBindAddress: '0', healthProbeBindAddress: '0', leaderElection: false });
    // Events are recorded as the skeleton sends them (the recorder's own writes are tested in runtime).
    manager.events.event = (_obj, _type, reason, note) => void events.push({ reason, note });
  });
  afterAll(async () => {
    await manager.stop();
  });

  function reconciler(): (key: string, rc: ReconcileContext) => Promise<ReconcileOutcome> {
    const client = manager.client;
    const cache = {
      current: undefined as Binding | undefined,
      get: () => cache.current,
      list: () => (cache.current ? [cache.current] : []),
      keys: () => [],
      byIndex: () => [],
      size: 0,
    };
    const ctx = { manager, clock: realClock, metrics: createHsmMetrics(new Registry()), secrets: {}, log: silentLogger } as unknown as OperatorContext;
    const spec: KindSpec<Status, Binding> = {
      kind: 'NtlsClientBinding',
      controller: 'skeleton-test',
      type: NtlsClientBindingType,
      cache,
      finalizer: true,
      triggers: [{ annotation: Annotations.repushNow, modes: ['manage'] }],
      readyEvents: false,
      pausedMessage: () => 'paused by the test',
      forget: () => void phases.push('forget'),
      apply: async (b, pass, step) => {
        const fired = [...step.fired].map(([a, v]) => `${a}=${v}`).join(',');
        phases.push(`apply:${step.mode}:${fired}:${b.metadata.finalizers?.join(',') ?? ''}:${b.status?.conditions?.length ? 'status' : 'nostatus'}`);
        return script.apply?.(b, pass, step);
      },
      cleanup: async (b, pass, step) => {
        phases.push('cleanup');
        return script.cleanup ? script.cleanup(b, pass, step) : { release: true };
      },
    };
    const run = reconcilerFor(ctx, spec);
    return async (key, rc) => {
      const [namespace, name] = key.split('/') as [string, string];
      cache.current = await client.getIfExists<Binding>(NtlsClientBindingType, namespace, name);
      return run(key, rc);
    };
  }

  const rc = (name: string, signal = new AbortController().signal): ReconcileContext => ({
    controller: 'skeleton-test',
    key: `${ns}/${name}`,
    namespace: ns,
    name,
    attempt: 0,
    reconcileID: 'test',
    log: silentLogger,
    signal,
  });

  async function create(name: string, annotations: Record<string, string> = {}): Promise<void> {
    await manager.client.create(NtlsClientBindingType, {
      apiVersion: `${GROUP}/${VERSION}`,
      kind: 'NtlsClientBinding',
      metadata: { name, namespace: ns, annotations },
      spec: { clientName: name, identity: { hostname: `${name}.example.internal` }, certificate: { generate: { keyAlgorithm: 'ECDSAP256' } }, targets: [{ dedicatedHsmRef: { name: 'hsm1' }, partitions: ['par0'] }] },
    });
  }
  const get = (name: string): Promise<Binding> => manager.client.get<Binding>(NtlsClientBindingType, ns, name);
  /** The user's annotation edits, under a field manager of their own (as kubectl annotate or a GitOps tool). */
  const annotate = (name: string, annotations: Record<string, string | null>) =>
    manager.client.patch(NtlsClientBindingType, ns, name, { metadata: { annotations } }, 'merge', { fieldManager: 'kubectl-annotate' });

  it('adds the finalizer, a first status and the trigger record before apply, then writes one report with the Events after it', async () => {
    phases.length = 0;
    events.length = 0;
    await create('order', { [Annotations.repushNow]: 'now' });
    const onRecord: (string | undefined)[] = [];
    script = {
      apply: async (_b, pass) => {
        // Write-ahead: when apply acts, the value it acts on is already on record at the API server.
        onRecord.push((await get('order')).status?.lastHandledRepushAt);
        pass.condition({ type: 'CertificateValid', status: 'True', reason: 'CertificateValid', message: 'scripted' });
        pass.event('Normal', 'Scripted', 'told with the report');
        pass.after(1234);
        return { requeueAfter: 1234 };
      },
    };
    const out = await reconciler()(`${ns}/order`, rc('order'));
    expect(out).toEqual({ requeueAfter: 1234 });
    // apply saw the trigger fired with its value, our finalizer, and the first status already written.
    expect(phases).toEqual([`apply:manage:${Annotations.repushNow}=now:${FINALIZER}:status`]);
    expect(onRecord).toEqual(['now']);
    const b = await get('order');
    // The annotation is left as the user set it; the report kept the record.
    expect(b.metadata.annotations?.[Annotations.repushNow]).toBe('now');
    expect(b.status?.lastHandledRepushAt).toBe('now');
    expect(b.status?.conditions?.find((c) => c.type === 'CertificateValid')?.message).toBe('scripted');
    expect(events.map((e) => e.reason)).toEqual(['Scripted']);

    // The same pass again fires nothing and writes nothing: the report is skipped when the status did not change.
    const rv = b.metadata.resourceVersion;
    phases.length = 0;
    await reconciler()(`${ns}/order`, rc('order'));
    expect(phases).toEqual([`apply:manage::${FINALIZER}:status`]);
    expect((await get('order')).metadata.resourceVersion).toBe(rv);
  });

  it('fires a trigger once per distinct non-empty value and never edits the annotation', async () => {
    await create('values');
    script = {};
    const run = async () => {
      phases.length = 0;
      await reconciler()(`${ns}/values`, rc('values'));
      return phases.map((p) => p.split(':')[2]);
    };
    expect(await run()).toEqual(['']);
    await annotate('values', { [Annotations.repushNow]: 'v1' });
    expect(await run()).toEqual([`${Annotations.repushNow}=v1`]);
    expect(await run()).toEqual(['']);
    // An empty value asks nothing and keeps the record.
    await annotate('values', { [Annotations.repushNow]: '' });
    expect(await run()).toEqual(['']);
    expect((await get('values')).status?.lastHandledRepushAt).toBe('v1');
    await annotate('values', { [Annotations.repushNow]: 'v2' });
    expect(await run()).toEqual([`${Annotations.repushNow}=v2`]);

    // A crash after the record costs the action; it is never repeated.
    await annotate('values', { [Annotations.repushNow]: 'v3' });
    script = { apply: () => Promise.reject(new TypeError('crash while acting')) };
    await expect(reconciler()(`${ns}/values`, rc('values'))).rejects.toBeInstanceOf(TypeError);
    script = {};
    expect(await run()).toEqual(['']);
    expect((await get('values')).status?.lastHandledRepushAt).toBe('v3');

    // A manage-only trigger waits in observe mode, unrecorded, and fires once the object is managed again.
    await annotate('values', { [Annotations.reconcile]: 'observe', [Annotations.repushNow]: 'v4' });
    expect(await run()).toEqual(['']);
    expect((await get('values')).status?.lastHandledRepushAt).toBe('v3');
    await annotate('values', { [Annotations.reconcile]: null });
    expect(await run()).toEqual([`${Annotations.repushNow}=v4`]);

    // A value too long to record is refused with a Warning, never acted on.
    events.length = 0;
    await annotate('values', { [Annotations.repushNow]: 'x'.repeat(2000) });
    expect(await run()).toEqual(['']);
    expect(events.map((e) => e.reason)).toEqual(['TriggerRefused']);
    expect((await get('values')).status?.lastHandledRepushAt).toBe('v4');

    // Every annotation is still the user's: the operator's writes (finalizer, status) never touched metadata.annotations.
    const b = await get('values');
    expect(b.metadata.annotations?.[Annotations.repushNow]).toHaveLength(2000);
    const owners = ((b.metadata.managedFields ?? []) as { manager: string; fieldsV1?: { 'f:metadata'?: Record<string, unknown> } }[])
      .filter((f) => f.fieldsV1?.['f:metadata']?.['f:annotations'])
      .map((f) => f.manager);
    expect(owners).toEqual(['kubectl-annotate']);
  });

  it('keeps the trigger record when a kind composes its whole status', async () => {
    await create('composed', { [Annotations.repushNow]: 'once' });
    script = {
      apply: async (b, pass) => {
        // A status shaped from scratch, as the binding's is: it knows nothing of the trigger fields.
        pass.compose = (prev) => ({ status: { conditions: prev.conditions ?? [], outputSecretName: `composed-${b.metadata.name}` }, ready: { status: 'True', reason: 'Ready', message: 'composed', severity: 'ready' } });
        return undefined;
      },
    };
    phases.length = 0;
    await reconciler()(`${ns}/composed`, rc('composed'));
    await reconciler()(`${ns}/composed`, rc('composed'));
    expect(phases.map((p) => p.split(':')[2])).toEqual([`${Annotations.repushNow}=once`, '']);
    expect((await get('composed')).status).toMatchObject({ outputSecretName: 'composed-composed', lastHandledRepushAt: 'once' });
  });

  it('writes a checkpoint before the act, and the report after it', async () => {
    await create('checkpoint');
    const seen: (string | undefined)[] = [];
    script = {
      apply: async (_b, pass, step) => {
        pass.put('outputSecretName', 'before-the-act');
        const written = await step.checkpoint(pass);
        // The act: what is on record at the API server when it runs.
        seen.push((await get('checkpoint')).status?.outputSecretName, written.status?.outputSecretName);
        pass.put('outputSecretName', 'after-the-act');
        return undefined;
      },
    };
    await reconciler()(`${ns}/checkpoint`, rc('checkpoint'));
    expect(seen).toEqual(['before-the-act', 'before-the-act']);
    expect((await get('checkpoint')).status?.outputSecretName).toBe('after-the-act');
  });

  it('reports a RetryableError before it goes on; any other error and an aborted pass report nothing', async () => {
    await create('errors');
    await reconciler()(`${ns}/errors`, rc('errors')); // finalizer and first status
    const condition = (message: string) => ({ type: 'CertificateValid', status: 'False' as const, reason: 'SecretNotFound', message });
    script = {
      apply: async (_b, pass) => {
        pass.condition(condition('retrying'));
        throw new RetryableError('later', { retryAfterMs: 10 });
      },
    };
    await expect(reconciler()(`${ns}/errors`, rc('errors'))).rejects.toBeInstanceOf(RetryableError);
    const afterRetry = await get('errors');
    expect(afterRetry.status?.conditions?.find((c) => c.type === 'CertificateValid')?.message).toBe('retrying');

    events.length = 0;
    script = {
      apply: async (_b, pass) => {
        pass.condition(condition('a bug'));
        pass.event('Warning', 'Happened', 'before the bug');
        throw new TypeError('bug');
      },
    };
    await expect(reconciler()(`${ns}/errors`, rc('errors'))).rejects.toBeInstanceOf(TypeError);
    expect((await get('errors')).metadata.resourceVersion).toBe(afterRetry.metadata.resourceVersion);
    expect(events.map((e) => e.reason)).toEqual(['Happened']);

    const abort = new AbortController();
    script = {
      apply: async (_b, pass) => {
        abort.abort(new AbortedError('lease lost'));
        pass.condition(condition('an interrupted read'));
        return undefined;
      },
    };
    await expect(reconciler()(`${ns}/errors`, rc('errors', abort.signal))).rejects.toBeInstanceOf(AbortedError);
    expect((await get('errors')).metadata.resourceVersion).toBe(afterRetry.metadata.resourceVersion);
  });

  it('paused and invalid modes report only that; deletion goes to cleanup, which keeps or releases the finalizer', async () => {
    await create('modes', { [Annotations.reconcile]: 'paused' });
    phases.length = 0;
    await reconciler()(`${ns}/modes`, rc('modes'));
    let b = await get('modes');
    expect(b.status?.conditions?.find((c) => c.type === 'Ready')).toMatchObject({ reason: 'Paused', message: 'paused by the test' });
    expect(b.metadata.finalizers ?? []).toEqual([]);

    await manager.client.patch(NtlsClientBindingType, ns, 'modes', { metadata: { annotations: { [Annotations.reconcile]: 'Manage' } } }, 'merge');
    await reconciler()(`${ns}/modes`, rc('modes'));
    b = await get('modes');
    expect(b.status?.conditions?.find((c) => c.type === 'Ready')).toMatchObject({ reason: 'InvalidSpec' });
    expect(phases).toEqual([]); // apply never ran

    await manager.client.patch(NtlsClientBindingType, ns, 'modes', { metadata: { annotations: { [Annotations.reconcile]: 'manage' } } }, 'merge');
    script = {};
    await reconciler()(`${ns}/modes`, rc('modes'));
    expect((await get('modes')).metadata.finalizers).toEqual([FINALIZER]);

    await manager.client.delete(NtlsClientBindingType, ns, 'modes');
    script = { cleanup: async (_b, pass) => (pass.condition({ type: 'Registered', status: 'False', reason: 'ApplianceUnreachable', message: 'kept' }), { outcome: { requeueAfter: 5 } }) };
    phases.length = 0;
    expect(await reconciler()(`${ns}/modes`, rc('modes'))).toEqual({ requeueAfter: 5 });
    expect((await get('modes')).metadata.finalizers).toEqual([FINALIZER]);
    script = {};
    await reconciler()(`${ns}/modes`, rc('modes'));
    expect(phases).toEqual(['cleanup', 'cleanup', 'forget']);
    expect(await manager.client.getIfExists(NtlsClientBindingType, ns, 'modes')).toBeUndefined();
  });
});
