/**
 * `hsm-operator request` against the real API server and the real operator: each request sets a fresh value with a
 * merge patch under its own field manager, and the operator acts exactly once per distinct value (one ResyncRequested
 * Event naming it, the value recorded in status), however often the same value is applied again, by the CLI or by
 * a sync tool taking the annotation over.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { Annotations, GROUP, VERSION } from '../../../src/api/index.js';
import { main } from '../../../src/cli/index.js';
import type { Io } from '../../../src/cli/io.js';
import { REQUEST_FIELD_MANAGER } from '../../../src/cli/request.js';
import { adminEndpoint, call } from '../../support/http.js';
import { startScenario, type Scenario } from '../controllers/dedicatedhsm/fixture.js';

const home = mkdtempSync(join(tmpdir(), 'hsm-request-'));

async function cli(argv: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const io: Io = { out: (t) => void (out += t), err: (t) => void (err += t), env: { HOME: home, HSM_SANDBOX_DIR: join(home, 'sandbox') } };
  const code = await main(argv, io);
  return { code, out, err };
}

describe('hsm-operator request', () => {
  let sc: Scenario;
  let flags: string[];

  beforeAll(async () => {
    sc = await startScenario({ prefix: 'cli-request' });
    await sc.deploy('hsm1');
    await sc.waitFor('hsm1', 'Ready', { status: 'True' });
    flags = ['--kubeconfig', inject('controlPlane').kubeconfigPath, '-n', sc.namespace];
  }, 60_000);
  afterAll(async () => {
    await sc?.stop();
    rmSync(home, { recursive: true, force: true });
  });

  const resyncs = async () => (await sc.events('hsm1', 'ResyncRequested')).map((e) => e.note ?? '');
  const valueOf = (out: string) => /dedicatedhsm\.io\/resync-now=(\S+) requested/.exec(out)?.[1];

  it('sets a fresh RFC 3339 value and, with --wait, returns once the operator recorded it', async () => {
    const r = await cli(['request', 'resync', 'dhsm/hsm1', ...flags, '--wait', '--timeout', '30s']);
    expect(r.code, r.err).toBe(0);
    const value = valueOf(r.out);
    expect(value).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
    expect(r.out).toContain(`taken: status.lastHandledResyncAt=${value}; the operator acts on it now`);
    const hsm = await sc.get('hsm1');
    expect(hsm.metadata.annotations?.[Annotations.resyncNow]).toBe(value);
    expect(hsm.status?.lastHandledResyncAt).toBe(value);
    // Taken means recorded, right before the pass acts; its Event follows with the pass.
    await waitForCount(1);
    expect(await resyncs()).toEqual([`${Annotations.resyncNow}=${JSON.stringify(value)}: re-reading Azure and the appliance now.`]);
    // The annotation is the request's, under the CLI's own field manager, never the operator's.
    const owners = ((hsm.metadata.managedFields ?? []) as { manager: string; fieldsV1?: { 'f:metadata'?: Record<string, unknown> } }[])
      .filter((f) => f.fieldsV1?.['f:metadata']?.['f:annotations'])
      .map((f) => f.manager);
    expect(owners).toEqual([REQUEST_FIELD_MANAGER]);
  });

  it('acts exactly once per distinct value: a second request acts once more, the same value again never', async () => {
    const second = await cli(['request', 'resync', 'dhsm/hsm1', ...flags, '--wait', '--timeout', '30s']);
    expect(second.code, second.err).toBe(0);
    const value = valueOf(second.out) ?? '';
    await waitForCount(2);

    // The same value through the CLI: nothing is patched, nothing asked.
    const same = await cli(['request', 'resync', 'dhsm/hsm1', ...flags, '--value', value]);
    expect(same.code).toBe(0);
    expect(same.err).toContain('already holds');
    // The same value applied by a sync tool that takes the annotation over: a real write the operator sees, no action.
    const path = `/apis/${GROUP}/${VERSION}/namespaces/${sc.namespace}/dedicatedhsms/hsm1?fieldManager=argocd-controller&force=true`;
    const applied = await call(adminEndpoint(), 'PATCH', path, { apiVersion: `${GROUP}/${VERSION}`, kind: 'DedicatedHsm', metadata: { name: 'hsm1', annotations: { [Annotations.resyncNow]: value } } }, 'application/apply-patch+yaml');
    expect(applied.status, applied.text).toBe(200);
    await sleep(2_000);
    expect(await resyncs()).toHaveLength(2);
    expect((await sc.get('hsm1')).status?.lastHandledResyncAt).toBe(value);
  });

  it('waits no longer than --timeout when nothing records the value', async () => {
    await sc.stopOperator();
    try {
      const r = await cli(['request', 'resync', 'dhsm/hsm1', ...flags, '--wait', '--timeout', '1s']);
      expect(r.code).toBe(1);
      expect(r.err).toMatch(/did not record dedicatedhsm\.io\/resync-now=\S+ in status\.lastHandledResyncAt within 1 s/);
    } finally {
      await sc.startOperator();
    }
    // The request stands: the restarted operator acts on it once.
    await waitForCount(3);
  });

  async function waitForCount(n: number): Promise<void> {
    const deadline = Date.now() + 20_000;
    while ((await resyncs()).length < n && Date.now() < deadline) await sleep(200);
    expect(await resyncs()).toHaveLength(n);
  }
});
