/**
 * Plan's planes refuse writes by construction: each one is asked for a write here and must refuse it with nothing
 * sent (the layer under it never sees the request), while reads pass through.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connectionFor, createAzurePlane, type AzurePlane } from '../../../src/azure/index.js';
import { DedicatedHsmType } from '../../../src/controllers/shared/index.js';
import { CredentialGuard, type SshEndpoint } from '../../../src/luna/index.js';
import { NotContactedError, PlanDevicePlane, readOnlyAzurePlane, ReadOnlyError, ReadOnlyTransport, RecordingStatusWriter, type RefusedWrite } from '../../../src/plan/read-only.js';
import { CoreTypes, KubeClient, type ApiRequest, type ApiResponse, type StreamRequest, type Transport } from '../../../src/runtime/index.js';
import { startArmSimulator, type ArmSimulator } from '../../../src/sandbox/arm/index.js';
import { FakeAzurePlane } from '../../support/fakes/azure-plane.js';
import { FakeDevicePlane } from '../../support/fakes/device-plane.js';

/** An API server stand-in that answers every GET with an empty object and records every request it receives. */
class Recorder implements Transport {
  readonly host = '';
  readonly seen: string[] = [];
  async request(req: ApiRequest): Promise<ApiResponse> {
    this.seen.push(`${req.verb} ${req.path}`);
    return { status: 200, body: JSON.stringify({ metadata: { name: 'x', resourceVersion: '1' } }) };
  }
  async stream(req: StreamRequest): Promise<void> {
    this.seen.push(`WATCH ${req.path}`);
  }
}

describe('Kubernetes', () => {
  it('the transport sends GETs and refuses every write and watch, recorded, nothing sent', async () => {
    const inner = new Recorder();
    const t = new ReadOnlyTransport(inner);
    const client = new KubeClient(t);
    await client.get(CoreTypes.secrets, 'ns', 's');
    const secret = { apiVersion: 'v1', kind: 'Secret', metadata: { name: 's', namespace: 'ns' } };
    await expect(client.create(CoreTypes.secrets, secret)).rejects.toThrow(ReadOnlyError);
    await expect(client.replace(CoreTypes.secrets, secret)).rejects.toThrow(ReadOnlyError);
    await expect(client.patch(CoreTypes.secrets, 'ns', 's', { data: {} }, 'merge')).rejects.toThrow(ReadOnlyError);
    await expect(client.delete(CoreTypes.secrets, 'ns', 's')).rejects.toThrow(ReadOnlyError);
    await expect(t.stream({ path: '/api/v1/secrets', signal: new AbortController().signal, onLine: () => undefined })).rejects.toThrow(ReadOnlyError);
    expect(inner.seen).toEqual(['GET /api/v1/namespaces/ns/secrets/s']);
    expect(t.refused.map((r) => r.what.split(' ')[0])).toEqual(['POST', 'PUT', 'PATCH', 'DELETE', 'WATCH']);
  });

  it("the status writer (persistGuard's way in) records the write and sends nothing", async () => {
    const inner = new Recorder();
    const w = new RecordingStatusWriter(new KubeClient(inner));
    const hsm = { apiVersion: 'dedicatedhsm.io/v1alpha1', kind: 'DedicatedHsm', metadata: { name: 'hsm1', namespace: 'ns', resourceVersion: '7' }, status: {} };
    const r = await w.update(DedicatedHsmType, hsm, (s: Record<string, unknown>) => ({ ...s, credentialGuard: [] }), { strategy: 'merge' });
    expect(r).toEqual({ object: hsm, written: false });
    expect(w.attempted).toEqual([{ plane: 'kubernetes', what: 'status of DedicatedHsm ns/hsm1' }]);
    expect(inner.seen).toEqual([]);
  });
});

describe('Azure', () => {
  it('the plane refuses create, delete and tags before the plane under it is called; reads pass', async () => {
    const fake = new FakeAzurePlane();
    const refused: RefusedWrite[] = [];
    const plane = readOnlyAzurePlane(fake, refused).withSignal(undefined);
    const spec = { subscriptionId: '00000000-0000-0000-0000-000000000001', resourceGroup: 'rg', name: 'hsm1', location: 'eastus', sku: 'x', subnetId: '/s' };
    await expect(plane.beginCreateHsm(spec)).rejects.toThrow(ReadOnlyError);
    await expect(plane.beginDeleteHsm(spec.subscriptionId, 'rg', 'hsm1')).rejects.toThrow(ReadOnlyError);
    await expect(plane.updateTags(spec.subscriptionId, 'rg', 'hsm1', {})).rejects.toThrow(ReadOnlyError);
    expect(await plane.getHsm(spec.subscriptionId, 'rg', 'hsm1')).toBeUndefined();
    expect(fake.calls).toMatchObject({ beginCreateHsm: 0, beginDeleteHsm: 0, updateTags: 0, getHsm: 1 });
    expect(refused.map((r) => r.what)).toEqual(['PUT of HSM hsm1', 'DELETE of HSM hsm1', 'PATCH (tags) of HSM hsm1']);
  });

  describe('the ARM pipeline of a read-only connection', () => {
    let arm: ArmSimulator;
    let plane: AzurePlane;
    beforeAll(async () => {
      arm = await startArmSimulator();
      const token = { getToken: () => Promise.resolve({ token: 't', expiresOnTimestamp: Date.now() + 3_600_000 }) };
      plane = createAzurePlane(token, { ...connectionFor({ endpoint: arm.endpoint, credentialScopes: [`${arm.endpoint}/.default`] }, { caPem: arm.caPem }), readOnly: true });
    });
    afterAll(async () => arm?.stop());

    it('refuses PUT, DELETE and PATCH with nothing sent, and sends GETs', async () => {
      const sub = '00000000-0000-0000-0000-000000000001';
      const spec = { subscriptionId: sub, resourceGroup: 'rg', name: 'hsm1', location: 'eastus', sku: 'SafeNet Luna Network HSM A790', subnetId: `/subscriptions/${sub}/resourceGroups/rg/providers/Microsoft.Network/virtualNetworks/v/subnets/s`, stampId: 'stamp1' };
      await expect(plane.beginCreateHsm(spec)).rejects.toThrow(/read-only/);
      await expect(plane.beginDeleteHsm(sub, 'rg', 'hsm1')).rejects.toThrow(/read-only/);
      await expect(plane.updateTags(sub, 'rg', 'hsm1', { a: 'b' })).rejects.toThrow(/read-only/);
      expect(await plane.getHsm(sub, 'rg', 'hsm1')).toBeUndefined();
      expect(arm.requests.map((r) => r.method)).toEqual(['GET']);
    });
  });
});

describe('device', () => {
  const endpoint: SshEndpoint = { host: '10.0.2.4', port: 22, username: 'tenantadmin', credential: { password: 'pw', secret: { uid: 'u1', resourceVersion: '1' } }, hostKey: { kind: 'insecure' } as never, role: 'appliance-ssh' };

  it('has only read commands: registering, uploading, revoking, LunaCM changes and zeroize throw, nothing sent', async () => {
    const inner = new FakeDevicePlane({ guard: new CredentialGuard() });
    await inner.addAppliance({ host: '10.0.2.4', serial: '1', password: 'pw' });
    const refused: RefusedWrite[] = [];
    const d = new PlanDevicePlane(inner, () => ({ ok: true }), refused);
    const a = d.appliance(endpoint);
    expect((await a.show()).serial).toBe('1');
    await expect(a.registerClient('c', { hostname: 'h' })).rejects.toThrow(ReadOnlyError);
    await expect(a.assignPartition('c', 'par0')).rejects.toThrow(ReadOnlyError);
    await expect(a.revokePartition('c', 'par0')).rejects.toThrow(ReadOnlyError);
    await expect(a.deleteClient('c')).rejects.toThrow(ReadOnlyError);
    await expect(a.uploadFile('c.pem', 'x')).rejects.toThrow(ReadOnlyError);
    await expect(d.lunaCm(endpoint).recover('g')).rejects.toThrow(ReadOnlyError);
    await expect(async () => d.zeroize(endpoint)).rejects.toThrow(ReadOnlyError);
    expect(inner.counters().commands.stateChanging).toBe(0);
    expect(inner.counters().commands.readOnly).toBeGreaterThan(0);
    expect(refused).toHaveLength(7);
    expect(d.contacted).toEqual(['10.0.2.4:22']);
  });

  it('a login the policy holds back never reaches the device: no connection, the reason kept', async () => {
    const inner = new FakeDevicePlane({ guard: new CredentialGuard() });
    await inner.addAppliance({ host: '10.0.2.4', serial: '1', password: 'pw' });
    const d = new PlanDevicePlane(inner, () => ({ ok: false, why: 'a rejection is on record' }), []);
    await expect(d.appliance(endpoint).show()).rejects.toThrow(NotContactedError);
    expect(inner.counters().connections).toBe(0);
    expect(d.heldBack.get('10.0.2.4:22')).toBe('a rejection is on record');
  });

  it('without a device plane (no --appliance) nothing is dialled, not even the NTLS port', async () => {
    const d = new PlanDevicePlane(undefined, () => ({ ok: true }), []);
    await expect(d.appliance(endpoint).packages()).rejects.toThrow(/--appliance/);
    expect(await d.probeTcp({ host: '10.0.2.4', port: 1792 }, 100)).toMatchObject({ ok: false, detail: 'not contacted by plan' });
  });
});
