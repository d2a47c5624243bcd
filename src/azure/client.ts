/**
 * The AzurePlane over the real SDKs: @azure/arm-hardwaresecuritymodules 1.0.0 for dedicatedHSMs,
 * @azure/arm-network 39 for gateways, subnets and NICs, and the HSM client's own pipeline (same credential,
 * endpoint and TLS settings) for Microsoft.Features. One SDK client per subscription, created on first use.
 * Every failure leaves here as an AzurePlaneError carrying its classification.
 */
import { AzureDedicatedHSMResourceProvider } from '@azure/arm-hardwaresecuritymodules';
import type { DedicatedHsm } from '@azure/arm-hardwaresecuritymodules';
import { NetworkManagementClient } from '@azure/arm-network';
import type { TokenCredential } from '@azure/core-auth';
import { createPipelineRequest, type Pipeline } from '@azure/core-rest-pipeline';
import { createCredential, credentialKey, hsmClientOptions, networkClientOptions } from './credentials.js';
import type { ArmConnection, CredentialSource } from './credentials.js';
import { AzurePlaneError, classifyAzureError, classifyFailedProvisioning } from './errors.js';
import { GATEWAY_TYPE, NIC_TYPE, SUBNET_TYPE, parseArmIdOfType } from './ids.js';
import { decodeToken, encodeToken, isBareOperationFailure, isOperationOutcome, resumeStateAfterAccepted } from './lro.js';
import type { InitialResponse } from './lro.js';
import { computeQuotaView } from './quota.js';
import { fencePolicy, ThrottleGate } from './throttle.js';
import type { AzurePlane, CreateProgress, DeleteProgress, FeatureState, GatewayState, HsmSpec, HsmState, NicState, QuotaLimits, QuotaView, SubnetState } from './types.js';
import { fromSdkGateway, fromSdkHsm, fromSdkNic, fromSdkSubnet, toSdkHsm } from './wire.js';

export const FEATURES_API_VERSION = '2021-07-01';

interface HsmRef {
  subscriptionId: string;
  resourceGroup: string;
  name: string;
}

/** A poller as both SDK generations expose it (only what is used here). */
interface PollerLike<T> {
  isDone(): boolean;
  getResult(): T | undefined;
  toString(): string;
}

export class ArmAzurePlane implements AzurePlane {
  private readonly hsmClients = new Map<string, AzureDedicatedHSMResourceProvider>();
  private readonly networkClients = new Map<string, NetworkManagementClient>();
  /** Retry-After of a 429 holds every later request of that subscription (see throttle.ts). */
  private readonly throttle = new ThrottleGate();

  constructor(
    private readonly credential: TokenCredential,
    private readonly connection: ArmConnection,
  ) {}

  private addPolicies(pipeline: Pipeline): void {
    pipeline.addPolicy(this.throttle.policy());
    if (this.connection.fence) pipeline.addPolicy(fencePolicy(this.connection.fence));
  }

  private hsmClient(subscriptionId: string): AzureDedicatedHSMResourceProvider {
    let c = this.hsmClients.get(subscriptionId);
    if (!c) {
      c = new AzureDedicatedHSMResourceProvider(this.credential, subscriptionId, hsmClientOptions(this.connection));
      this.addPolicies(c.pipeline);
      this.hsmClients.set(subscriptionId, c);
    }
    return c;
  }

  private networkClient(subscriptionId: string): NetworkManagementClient {
    let c = this.networkClients.get(subscriptionId);
    if (!c) {
      c = new NetworkManagementClient(this.credential, subscriptionId, networkClientOptions(this.connection));
      this.addPolicies(c.pipeline);
      this.networkClients.set(subscriptionId, c);
    }
    return c;
  }

  async getGateway(id: string): Promise<GatewayState | undefined> {
    const ref = parseId(id, GATEWAY_TYPE);
    const gw = await orUndefined('get gateway', () => this.networkClient(ref.subscriptionId).virtualNetworkGateways.get(ref.resourceGroup, ref.name));
    return gw && fromSdkGateway(id, gw);
  }

  async getSubnet(id: string): Promise<SubnetState | undefined> {
    const ref = parseId(id, SUBNET_TYPE);
    const subnet = await orUndefined('get subnet', () => this.networkClient(ref.subscriptionId).subnets.get(ref.resourceGroup, ref.names[0] ?? '', ref.name));
    return subnet && fromSdkSubnet(id, subnet);
  }

  async getNic(id: string): Promise<NicState | undefined> {
    const ref = parseId(id, NIC_TYPE);
    const nic = await orUndefined('get network interface', () => this.networkClient(ref.subscriptionId).networkInterfaces.get(ref.resourceGroup, ref.name));
    return nic && fromSdkNic(id, nic);
  }

  async getFeature(subscriptionId: string, namespace: string, name: string): Promise<FeatureState> {
    const path = `/subscriptions/${enc(subscriptionId)}/providers/Microsoft.Features/providers/${enc(namespace)}/features/${enc(name)}`;
    const url = `${this.connection.endpoint.replace(/\/+$/, '')}${path}?api-version=${FEATURES_API_VERSION}`;
    const res = await guard('get feature', () => this.hsmClient(subscriptionId).sendRequest(createPipelineRequest({ url, method: 'GET' })));
    const body = parseJson(res.bodyAsText);
    // A feature the subscription cannot see is, for allowlisting purposes, not registered.
    if (res.status === 404) return { name: `${namespace}/${name}`, state: 'NotRegistered' };
    if (res.status >= 300) {
      const error = (body as { error?: { code?: string; message?: string } } | undefined)?.error;
      throw new AzurePlaneError(classifyAzureError({ name: 'RestError', statusCode: res.status, code: error?.code, message: error?.message ?? `HTTP ${res.status}`, response: res }), 'get feature');
    }
    const feature = body as { name?: string; properties?: { state?: string } } | undefined;
    return { name: feature?.name ?? `${namespace}/${name}`, state: feature?.properties?.state ?? 'NotRegistered' };
  }

  async getHsm(subscriptionId: string, resourceGroup: string, name: string): Promise<HsmState | undefined> {
    const hsm = await orUndefined('get dedicated HSM', () => this.hsmClient(subscriptionId).dedicatedHsmOperations.get(resourceGroup, name));
    return hsm && fromSdkHsm(hsm);
  }

  async listHsms(subscriptionId: string): Promise<HsmState[]> {
    return guard('list dedicated HSMs', async () => {
      const out: HsmState[] = [];
      for await (const hsm of this.hsmClient(subscriptionId).dedicatedHsmOperations.listBySubscription()) out.push(fromSdkHsm(hsm));
      return out;
    });
  }

  async quotaView(subscriptionId: string, location: string, limits?: QuotaLimits): Promise<QuotaView> {
    return computeQuotaView(await this.listHsms(subscriptionId), location, limits);
  }

  async beginCreateHsm(spec: HsmSpec): Promise<CreateProgress> {
    const ref: HsmRef = { subscriptionId: spec.subscriptionId, resourceGroup: spec.resourceGroup, name: spec.name };
    let initial: InitialResponse | undefined;
    try {
      const poller = await this.hsmClient(ref.subscriptionId).dedicatedHsmOperations.beginCreateOrUpdate(ref.resourceGroup, ref.name, toSdkHsm(spec), {
        ...this.pollOptions(),
        onResponse: (raw) => {
          initial ??= { status: raw.status, headers: raw.headers.toJSON() };
        },
      });
      return await this.createProgress(ref, poller);
    } catch (err) {
      const accepted = !isOperationOutcome(err) && initial ? resumeStateAfterAccepted('PUT', initial) : undefined;
      if (accepted) return { done: false, token: encodeToken({ kind: 'create', ...ref, poller: accepted }) };
      throw await this.createFailure(ref, err);
    }
  }

  async pollCreate(token: string): Promise<CreateProgress> {
    const t = decodeToken(token, 'create');
    try {
      // The parameters are not sent again when resuming: only the poll URLs are used.
      const resumeParameters: DedicatedHsm = { location: '' };
      const poller = await this.hsmClient(t.subscriptionId).dedicatedHsmOperations.beginCreateOrUpdate(t.resourceGroup, t.name, resumeParameters, {
        ...this.pollOptions(),
        resumeFrom: t.poller,
      });
      return await this.createProgress(t, poller);
    } catch (err) {
      throw await this.createFailure(t, err);
    }
  }

  async beginDeleteHsm(subscriptionId: string, resourceGroup: string, name: string): Promise<DeleteProgress> {
    const ref: HsmRef = { subscriptionId, resourceGroup, name };
    let initial: InitialResponse | undefined;
    try {
      const poller = await this.hsmClient(subscriptionId).dedicatedHsmOperations.beginDelete(resourceGroup, name, {
        ...this.pollOptions(),
        onResponse: (raw) => {
          initial ??= { status: raw.status, headers: raw.headers.toJSON() };
        },
      });
      return this.deleteProgress(ref, poller);
    } catch (err) {
      const accepted = !isOperationOutcome(err) && initial ? resumeStateAfterAccepted('DELETE', initial) : undefined;
      if (accepted) return { done: false, token: encodeToken({ kind: 'delete', ...ref, poller: accepted }) };
      throw new AzurePlaneError(classifyAzureError(err), 'delete dedicated HSM');
    }
  }

  async pollDelete(token: string): Promise<DeleteProgress> {
    const t = decodeToken(token, 'delete');
    const poller = await guard('delete dedicated HSM', () =>
      this.hsmClient(t.subscriptionId).dedicatedHsmOperations.beginDelete(t.resourceGroup, t.name, { ...this.pollOptions(), resumeFrom: t.poller }),
    );
    return this.deleteProgress(t, poller);
  }

  async updateTags(subscriptionId: string, resourceGroup: string, name: string, tags: Record<string, string>): Promise<HsmState> {
    const hsm = await guard('update dedicated HSM tags', () =>
      this.hsmClient(subscriptionId).dedicatedHsmOperations.beginUpdateAndWait(resourceGroup, name, { ...this.pollOptions(), tags }),
    );
    return fromSdkHsm(hsm);
  }

  private pollOptions(): { updateIntervalInMs?: number } {
    return this.connection.pollIntervalMs !== undefined ? { updateIntervalInMs: this.connection.pollIntervalMs } : {};
  }

  private async createProgress(ref: HsmRef, poller: PollerLike<DedicatedHsm>): Promise<CreateProgress> {
    if (!poller.isDone()) return { done: false, token: encodeToken({ kind: 'create', ...ref, poller: poller.toString() }) };
    const result = poller.getResult();
    if (result?.id) return { done: true, hsm: fromSdkHsm(result) };
    const hsm = await this.getHsm(ref.subscriptionId, ref.resourceGroup, ref.name);
    if (!hsm) throw new AzurePlaneError(classifyAzureError({ name: 'RestError', statusCode: 404, code: 'ResourceNotFound', message: `dedicated HSM '${ref.name}' vanished after its creation completed` }), 'create dedicated HSM');
    return { done: true, hsm };
  }

  private deleteProgress(ref: HsmRef, poller: PollerLike<void>): DeleteProgress {
    return poller.isDone() ? { done: true } : { done: false, token: encodeToken({ kind: 'delete', ...ref, poller: poller.toString() }) };
  }

  /** A body-polled failure has no detail: the resource's statusMessage explains it. */
  private async createFailure(ref: HsmRef, err: unknown): Promise<AzurePlaneError> {
    if (isBareOperationFailure(err)) {
      const hsm = await this.getHsm(ref.subscriptionId, ref.resourceGroup, ref.name).catch(() => undefined);
      if (hsm?.provisioningState === 'Failed') return new AzurePlaneError(classifyFailedProvisioning(hsm.statusMessage), 'create dedicated HSM');
    }
    return new AzurePlaneError(classifyAzureError(err), 'create dedicated HSM');
  }
}

function parseId(id: string, type: string): { subscriptionId: string; resourceGroup: string; name: string; names: string[] } {
  try {
    const parsed = parseArmIdOfType(id, type);
    return { subscriptionId: parsed.subscriptionId, resourceGroup: parsed.resourceGroup ?? '', name: parsed.name, names: parsed.names };
  } catch (err) {
    throw new AzurePlaneError({ class: 'invalid', retryable: false, message: (err as Error).message, action: 'Correct the resource ID in the spec.' });
  }
}

async function guard<T>(operation: string, fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    throw err instanceof AzurePlaneError ? err : new AzurePlaneError(classifyAzureError(err), operation);
  }
}

async function orUndefined<T>(operation: string, fn: () => Promise<T>): Promise<T | undefined> {
  try {
    return await fn();
  } catch (err) {
    if ((err as { statusCode?: unknown }).statusCode === 404) return undefined;
    throw new AzurePlaneError(classifyAzureError(err), operation);
  }
}

function enc(segment: string): string {
  return encodeURIComponent(segment);
}

function parseJson(text: string | null | undefined): unknown {
  if (!text) return undefined;
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

/**
 * AzurePlanes cached per credential source (one SDK client per subscription inside each). A rotated client secret
 * has a new key, hence a new plane; `evict` drops planes no longer referenced.
 */
export class AzurePlaneCache {
  private readonly planes = new Map<string, ArmAzurePlane>();

  constructor(private readonly connection: ArmConnection) {}

  get(source: CredentialSource): AzurePlane {
    const key = credentialKey(source);
    let plane = this.planes.get(key);
    if (!plane) {
      plane = new ArmAzurePlane(createCredential(source, this.connection), this.connection);
      this.planes.set(key, plane);
    }
    return plane;
  }

  /** Keeps only the planes whose credential sources are still in use. */
  retain(sources: CredentialSource[]): void {
    const keep = new Set(sources.map(credentialKey));
    for (const key of this.planes.keys()) if (!keep.has(key)) this.planes.delete(key);
  }

  get size(): number {
    return this.planes.size;
  }
}

export function createAzurePlane(credential: TokenCredential, connection: ArmConnection): AzurePlane {
  return new ArmAzurePlane(credential, connection);
}
