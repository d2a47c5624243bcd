/**
 * The AzurePlane over the real SDKs: @azure/arm-hardwaresecuritymodules 1.0.0 for dedicatedHSMs,
 * @azure/arm-network 39 for gateways, subnets and NICs, and the HSM client's own pipeline (same credential,
 * endpoint, TLS settings and policies) for Microsoft.Features. One SDK client per subscription, created on first use.
 * Every failure leaves here as an AzurePlaneError carrying its classification.
 *
 * Three HSM calls go through that pipeline as raw requests, because the SDK misreads the published contract:
 * - list paging: core-client rebuilds a nextLink's query splitting each pair at its first two `=`, so a `$skiptoken`
 *   ending in `=` (the form of the spec's DedicatedHsm_ListBySubscription example) loses its padding. nextLinks are
 *   followed here verbatim;
 * - DELETE and PATCH: core-lro takes any 2xx on a `Location` for "done", and the published examples put the HSM's own
 *   URL there, which answers 200 while the operation runs. Here a delete is done on a 404 of the resource or a
 *   terminal operation status, a tag update once the tags show (see lro.ts).
 */
import { AzureDedicatedHSMResourceProvider } from '@azure/arm-hardwaresecuritymodules';
import type { DedicatedHsm } from '@azure/arm-hardwaresecuritymodules';
import { NetworkManagementClient } from '@azure/arm-network';
import type { TokenCredential } from '@azure/core-auth';
import { createPipelineRequest, RestError, type Pipeline, type PipelineResponse } from '@azure/core-rest-pipeline';
import { createCredential, credentialKey, hsmClientOptions, networkClientOptions } from './credentials.js';
import type { ArmConnection, CredentialSource } from './credentials.js';
import { ACTIONS, AzureAbortedError, AzurePlaneError, classifyAzureError, classifyFailedProvisioning, classifyOperationError, parseRetryAfter } from './errors.js';
import { GATEWAY_TYPE, NIC_TYPE, SUBNET_TYPE, hsmId, parseArmIdOfType, sameArmId } from './ids.js';
import { decodeToken, encodeToken, isBareOperationFailure, isOperationOutcome, isTerminalProvisioning, judgePoll, pollStateOf, resumeStateAfterAccepted } from './lro.js';
import type { InitialResponse, PollState } from './lro.js';
import { computeQuotaView } from './quota.js';
import { bindAzureSignal, throwIfAzureAborted } from './signal.js';
import { fencePolicy, readOnlyPolicy, ThrottleGate } from './throttle.js';
import type { AzureCallOptions, AzurePlane, CreateProgress, DeleteProgress, FeatureState, GatewayState, HsmSpec, HsmState, NicState, QuotaLimits, QuotaView, SubnetState } from './types.js';
import { fromSdkGateway, fromSdkHsm, fromSdkNic, fromSdkSubnet, fromWireHsm, HSM_API_VERSION, toSdkHsm } from './wire.js';

export const FEATURES_API_VERSION = '2021-07-01';

/** Polls of a tag update answered 202 before giving up (the caller retries the PATCH later). */
const TAG_UPDATE_POLLS = 20;
/** Interval between such polls without a Retry-After (or a configured pollIntervalMs). */
const DEFAULT_POLL_MS = 1000;

/** A raw answer of the HSM client's pipeline. */
interface RawAnswer {
  status: number;
  headers: Record<string, string>;
  body: unknown;
  response: PipelineResponse;
}

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
  /** Retry-After of a 429 holds later requests of the same kind (read/write) to the same resource path (see throttle.ts). */
  private readonly throttle = new ThrottleGate();

  constructor(
    private readonly credential: TokenCredential,
    private readonly connection: ArmConnection,
  ) {}

  private addPolicies(pipeline: Pipeline): void {
    pipeline.addPolicy(this.throttle.policy());
    if (this.connection.fence) pipeline.addPolicy(fencePolicy(this.connection.fence));
    if (this.connection.readOnly) pipeline.addPolicy(readOnlyPolicy());
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

  withSignal(signal: AbortSignal | undefined): AzurePlane {
    return bindAzureSignal(this, signal);
  }

  async getGateway(id: string, opts: AzureCallOptions = {}): Promise<GatewayState | undefined> {
    const ref = parseId(id, GATEWAY_TYPE);
    const gw = await orUndefined('get gateway', opts.signal, () => this.networkClient(ref.subscriptionId).virtualNetworkGateways.get(ref.resourceGroup, ref.name, sdkOptions(opts)));
    return gw && fromSdkGateway(id, gw);
  }

  async getSubnet(id: string, opts: AzureCallOptions = {}): Promise<SubnetState | undefined> {
    const ref = parseId(id, SUBNET_TYPE);
    const subnet = await orUndefined('get subnet', opts.signal, () => this.networkClient(ref.subscriptionId).subnets.get(ref.resourceGroup, ref.names[0] ?? '', ref.name, sdkOptions(opts)));
    return subnet && fromSdkSubnet(id, subnet);
  }

  async getNic(id: string, opts: AzureCallOptions = {}): Promise<NicState | undefined> {
    const ref = parseId(id, NIC_TYPE);
    const nic = await orUndefined('get network interface', opts.signal, () => this.networkClient(ref.subscriptionId).networkInterfaces.get(ref.resourceGroup, ref.name, sdkOptions(opts)));
    return nic && fromSdkNic(id, nic);
  }

  async getFeature(subscriptionId: string, namespace: string, name: string, opts: AzureCallOptions = {}): Promise<FeatureState> {
    const path = `/subscriptions/${enc(subscriptionId)}/providers/Microsoft.Features/providers/${enc(namespace)}/features/${enc(name)}`;
    const res = await guard('get feature', opts.signal, () => this.armRequest(subscriptionId, 'GET', `${this.base()}${path}?api-version=${FEATURES_API_VERSION}`, undefined, opts.signal));
    // A feature the subscription cannot see is, for allowlisting purposes, not registered.
    if (res.status === 404) return { name: `${namespace}/${name}`, state: 'NotRegistered' };
    if (res.status >= 300) throw failureOfAnswer(res, 'get feature');
    const feature = res.body as { name?: string; properties?: { state?: string } } | undefined;
    return { name: feature?.name ?? `${namespace}/${name}`, state: feature?.properties?.state ?? 'NotRegistered' };
  }

  async getHsm(subscriptionId: string, resourceGroup: string, name: string, opts: AzureCallOptions = {}): Promise<HsmState | undefined> {
    const hsm = await orUndefined('get dedicated HSM', opts.signal, () => this.hsmClient(subscriptionId).dedicatedHsmOperations.get(resourceGroup, name, sdkOptions(opts)));
    return hsm && fromSdkHsm(hsm);
  }

  /** Pages through nextLink as given: the SDK's own paging mangles a `$skiptoken` that contains `=`. */
  async listHsms(subscriptionId: string, opts: AzureCallOptions = {}): Promise<HsmState[]> {
    return guard('list dedicated HSMs', opts.signal, async () => {
      const out: HsmState[] = [];
      let url: string | undefined = `${this.base()}/subscriptions/${enc(subscriptionId)}/providers/Microsoft.HardwareSecurityModules/dedicatedHSMs?api-version=${HSM_API_VERSION}`;
      for (let pages = 0; url !== undefined; pages++) {
        if (pages >= 1000) throw new Error('more than 1000 pages of dedicated HSMs: the nextLinks loop');
        const res = await this.armRequest(subscriptionId, 'GET', url, undefined, opts.signal);
        if (res.status >= 300) throw failureOfAnswer(res, 'list dedicated HSMs');
        const page = (res.body ?? {}) as { value?: unknown[]; nextLink?: unknown };
        for (const item of page.value ?? []) out.push(fromWireHsm(item));
        url = typeof page.nextLink === 'string' && page.nextLink ? page.nextLink : undefined;
      }
      return out;
    });
  }

  async quotaView(subscriptionId: string, location: string, limits?: QuotaLimits, opts: AzureCallOptions = {}): Promise<QuotaView> {
    return computeQuotaView(await this.listHsms(subscriptionId, opts), location, limits);
  }

  async beginCreateHsm(spec: HsmSpec, opts: AzureCallOptions = {}): Promise<CreateProgress> {
    const ref: HsmRef = { subscriptionId: spec.subscriptionId, resourceGroup: spec.resourceGroup, name: spec.name };
    // Azure refuses stampId where zones are supported (hashicorp/terraform-provider-azurerm #8741): never send both.
    if (spec.stampId && spec.zones?.length)
      throw new AzurePlaneError(
        { class: 'invalid', retryable: false, message: `dedicated HSM '${spec.name}' asks for both stampId '${spec.stampId}' and zones [${spec.zones.join(', ')}]: give one of them`, action: ACTIONS.stampInZonalRegion },
        'create dedicated HSM',
      );
    throwIfAzureAborted(opts.signal, 'create dedicated HSM');
    let initial: InitialResponse | undefined;
    try {
      const poller = await this.hsmClient(ref.subscriptionId).dedicatedHsmOperations.beginCreateOrUpdate(ref.resourceGroup, ref.name, toSdkHsm(spec), {
        ...this.pollOptions(),
        ...sdkOptions(opts),
        onResponse: (raw) => {
          initial ??= { status: raw.status, headers: raw.headers.toJSON() };
        },
      });
      return await this.createProgress(ref, poller, opts);
    } catch (err) {
      // Accepted before the abort: the token must still reach the caller, who persists it.
      const accepted = !isOperationOutcome(err) && initial ? resumeStateAfterAccepted('PUT', initial) : undefined;
      if (accepted) return { done: false, token: encodeToken({ kind: 'create', ...ref, poller: accepted }) };
      if (opts.signal?.aborted) throw new AzureAbortedError('create dedicated HSM', true);
      throw await this.createFailure(ref, err);
    }
  }

  async pollCreate(token: string, opts: AzureCallOptions = {}): Promise<CreateProgress> {
    const t = decodeToken(token, 'create');
    throwIfAzureAborted(opts.signal, 'create dedicated HSM');
    try {
      // The parameters are not sent again when resuming: only the poll URLs are used.
      const resumeParameters: DedicatedHsm = { location: '' };
      const poller = await this.hsmClient(t.subscriptionId).dedicatedHsmOperations.beginCreateOrUpdate(t.resourceGroup, t.name, resumeParameters, {
        ...this.pollOptions(),
        ...sdkOptions(opts),
        resumeFrom: t.poller,
      });
      return await this.createProgress(t, poller, opts);
    } catch (err) {
      if (opts.signal?.aborted) throw new AzureAbortedError('create dedicated HSM', true);
      throw await this.createFailure(t, err);
    }
  }

  /**
   * Sends the DELETE. 200/204: gone. 202: a token naming what to poll (the operation-status URL, else the Location,
   * else the resource itself). The first poll is left to `pollDelete`.
   */
  async beginDeleteHsm(subscriptionId: string, resourceGroup: string, name: string, opts: AzureCallOptions = {}): Promise<DeleteProgress> {
    const ref: HsmRef = { subscriptionId, resourceGroup, name };
    const res = await guard('delete dedicated HSM', opts.signal, () => this.armRequest(subscriptionId, 'DELETE', this.hsmUrl(ref), undefined, opts.signal));
    if (res.status === 200 || res.status === 204 || res.status === 404) return { done: true };
    if (res.status === 202 || res.status === 201) {
      const poll = pollStateOf(res.headers) ?? { url: this.hsmUrl(ref), via: 'location' };
      return { done: false, token: encodeToken({ kind: 'delete', ...ref, poll }) };
    }
    throw failureOfAnswer(res, 'delete dedicated HSM');
  }

  /**
   * Done only on a 404 of the HSM or a terminal operation status; a 200 of the HSM itself means it still exists.
   * An operation that ended Failed or Canceled, or a poll URL that answers an error while the HSM no longer reads
   * Deleting, ends this token (not retryable: polling it again cannot help; the caller reads the HSM and decides
   * again). Whenever the operation failed but the HSM is gone, the delete is done all the same.
   */
  async pollDelete(token: string, opts: AzureCallOptions = {}): Promise<DeleteProgress> {
    const t = decodeToken(token, 'delete');
    const poll = t.poll as PollState;
    const pending = (next: PollState = poll): DeleteProgress => ({ done: false, token: encodeToken({ kind: 'delete', subscriptionId: t.subscriptionId, resourceGroup: t.resourceGroup, name: t.name, poll: next }) });
    const res = await guard('delete dedicated HSM', opts.signal, () => this.armRequest(t.subscriptionId, 'GET', poll.url, undefined, opts.signal));
    const verdict = judgePoll(res.status, res.body, this.isHsmUrl(t, poll.url));
    switch (verdict.kind) {
      case 'gone':
      case 'succeeded':
        return { done: true };
      case 'running':
      case 'resource':
        // ARM may hand out a new URL to poll with a 202.
        return pending(res.status === 202 ? (pollStateOf(res.headers) ?? poll) : poll);
      case 'unknown':
        return (await this.getHsm(t.subscriptionId, t.resourceGroup, t.name, opts)) ? pending() : { done: true };
      case 'failed':
      case 'canceled':
      case 'error': {
        if (verdict.kind === 'error' && [401, 403, 429].includes(res.status)) throw failureOfAnswer(res, 'delete dedicated HSM');
        const hsm = await this.getHsm(t.subscriptionId, t.resourceGroup, t.name, opts);
        if (!hsm) return { done: true };
        const failure =
          verdict.kind === 'failed'
            ? classifyOperationError(verdict.error)
            : verdict.kind === 'canceled'
              ? { class: 'conflict' as const, retryable: false, message: `the delete of dedicated HSM '${t.name}' was canceled`, action: ACTIONS.conflict }
              : failureOfAnswer(res, 'delete dedicated HSM').failure;
        const over = verdict.kind !== 'error' || hsm.provisioningState !== 'Deleting';
        throw new AzurePlaneError(over ? { ...failure, retryable: false } : failure, 'delete dedicated HSM');
      }
    }
  }

  /**
   * PATCH of the tags. A 200 carries the result; a 202 is followed until the tags show (a Location on the HSM
   * itself answers 200 before they do) or the operation status is terminal, at most TAG_UPDATE_POLLS polls.
   */
  async updateTags(subscriptionId: string, resourceGroup: string, name: string, tags: Record<string, string>, opts: AzureCallOptions = {}): Promise<HsmState> {
    const ref: HsmRef = { subscriptionId, resourceGroup, name };
    const op = 'update dedicated HSM tags';
    const res = await guard(op, opts.signal, () => this.armRequest(subscriptionId, 'PATCH', this.hsmUrl(ref), { tags }, opts.signal));
    if (res.status === 200 || res.status === 201) return fromWireHsm(res.body);
    if (res.status !== 202) throw failureOfAnswer(res, op);
    let poll: PollState = pollStateOf(res.headers) ?? { url: this.hsmUrl(ref), via: 'location' };
    let last = res;
    for (let i = 0; i < TAG_UPDATE_POLLS; i++) {
      await sleep(this.pollDelayMs(last), opts.signal);
      last = await guard(op, opts.signal, () => this.armRequest(subscriptionId, 'GET', poll.url, undefined, opts.signal));
      const verdict = judgePoll(last.status, last.body, this.isHsmUrl(ref, poll.url));
      switch (verdict.kind) {
        case 'resource': {
          const hsm = fromWireHsm(verdict.body);
          if (sameTags(hsm.tags, tags) && isTerminalProvisioning(hsm.provisioningState)) return hsm;
          break;
        }
        case 'running':
          if (last.status === 202) poll = pollStateOf(last.headers) ?? poll;
          break;
        case 'succeeded':
        case 'unknown': {
          const hsm = await this.getHsm(subscriptionId, resourceGroup, name, opts);
          if (!hsm) throw notFoundFailure(name, op);
          return hsm;
        }
        case 'gone':
          throw notFoundFailure(name, op);
        case 'failed':
          throw new AzurePlaneError(classifyOperationError(verdict.error), op);
        case 'canceled':
          throw new AzurePlaneError({ class: 'conflict', retryable: true, message: `the tag update of dedicated HSM '${name}' was canceled`, action: ACTIONS.conflict }, op);
        case 'error':
          throw failureOfAnswer(last, op);
      }
    }
    throw new AzurePlaneError(
      { class: 'transient', retryable: true, message: `the tag update of dedicated HSM '${name}' was accepted but its tags did not show after ${TAG_UPDATE_POLLS} polls`, action: ACTIONS.transient },
      op,
    );
  }

  private pollOptions(): { updateIntervalInMs?: number } {
    return this.connection.pollIntervalMs !== undefined ? { updateIntervalInMs: this.connection.pollIntervalMs } : {};
  }

  private pollDelayMs(answer: RawAnswer): number {
    const retryAfter = parseRetryAfter(answer.headers['retry-after']);
    return Math.min(retryAfter ?? this.connection.pollIntervalMs ?? DEFAULT_POLL_MS, 10_000);
  }

  private base(): string {
    return this.connection.endpoint.replace(/\/+$/, '');
  }

  private hsmUrl(ref: HsmRef): string {
    return `${this.base()}${hsmId(ref.subscriptionId, ref.resourceGroup, ref.name)}?api-version=${HSM_API_VERSION}`;
  }

  /** Whether a poll URL is the HSM's own (a Location on the resource), whatever its host form, query or trailing slash. */
  private isHsmUrl(ref: HsmRef, url: string): boolean {
    try {
      return sameArmId(decodeURIComponent(new URL(url).pathname).replace(/\/+$/, ''), hsmId(ref.subscriptionId, ref.resourceGroup, ref.name));
    } catch {
      return false;
    }
  }

  /**
   * One request through the HSM client's pipeline (credential, TLS, throttle gate, leader fence). A URL handed out by
   * ARM (nextLink, Location) is sent as given, with `api-version` appended only when it has none, and only to the
   * configured ARM endpoint: the bearer token goes nowhere else.
   */
  private async armRequest(subscriptionId: string, method: 'GET' | 'DELETE' | 'PATCH', url: string, body?: unknown, signal?: AbortSignal): Promise<RawAnswer> {
    const target = new URL(url);
    if (target.origin !== new URL(this.connection.endpoint).origin)
      throw new AzurePlaneError({
        class: 'invalid',
        retryable: false,
        message: `refusing to follow ${target.origin}${target.pathname}: it is not the ARM endpoint ${this.connection.endpoint}`,
        action: 'Check the configured ARM endpoint (sovereign clouds need their own endpoint and scopes).',
      });
    const withVersion = /[?&]api-version=/i.test(url) ? url : `${url}${target.search ? '&' : '?'}api-version=${HSM_API_VERSION}`;
    const request = createPipelineRequest({ url: withVersion, method, ...(signal ? { abortSignal: signal } : {}) });
    request.headers.set('Accept', 'application/json');
    if (body !== undefined) {
      request.headers.set('Content-Type', 'application/json');
      request.body = JSON.stringify(body);
    }
    const response = await this.hsmClient(subscriptionId).sendRequest(request);
    return { status: response.status, headers: response.headers.toJSON(), body: parseJson(response.bodyAsText), response };
  }

  private async createProgress(ref: HsmRef, poller: PollerLike<DedicatedHsm>, opts: AzureCallOptions): Promise<CreateProgress> {
    if (!poller.isDone()) return { done: false, token: encodeToken({ kind: 'create', ...ref, poller: poller.toString() }) };
    const result = poller.getResult();
    // A poller that followed a Location on the resource takes its first 200 for the end: only a terminal
    // provisioningState is. Otherwise keep polling the resource's provisioningState (core-lro's Body mode).
    if (result?.id && !isTerminalProvisioning(result.provisioningState)) {
      return { done: false, token: encodeToken({ kind: 'create', ...ref, poller: resumeStateAfterAccepted('PUT', { status: 201, headers: {} }) ?? '' }) };
    }
    if (result?.id && result.provisioningState === 'Failed') throw new AzurePlaneError(classifyFailedProvisioning(result.statusMessage), 'create dedicated HSM');
    if (result?.id) return { done: true, hsm: fromSdkHsm(result) };
    const hsm = await this.getHsm(ref.subscriptionId, ref.resourceGroup, ref.name, opts);
    if (!hsm) throw new AzurePlaneError(classifyAzureError({ name: 'RestError', statusCode: 404, code: 'ResourceNotFound', message: `dedicated HSM '${ref.name}' vanished after its creation completed` }), 'create dedicated HSM');
    return { done: true, hsm };
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

/** The SDK operation options carrying the caller's signal. */
function sdkOptions(opts: AzureCallOptions): { abortSignal?: AbortSignal } {
  return opts.signal ? { abortSignal: opts.signal } : {};
}

/** Runs one call: nothing is sent once `signal` has fired, and a failure after it fired is the abort. */
async function guard<T>(operation: string, signal: AbortSignal | undefined, fn: () => Promise<T>): Promise<T> {
  throwIfAzureAborted(signal, operation);
  try {
    return await fn();
  } catch (err) {
    if (signal?.aborted) throw err instanceof AzureAbortedError ? err : new AzureAbortedError(operation, true);
    throw err instanceof AzurePlaneError ? err : new AzurePlaneError(classifyAzureError(err), operation);
  }
}

async function orUndefined<T>(operation: string, signal: AbortSignal | undefined, fn: () => Promise<T>): Promise<T | undefined> {
  throwIfAzureAborted(signal, operation);
  try {
    return await fn();
  } catch (err) {
    if (signal?.aborted) throw new AzureAbortedError(operation, true);
    if ((err as { statusCode?: unknown }).statusCode === 404) return undefined;
    throw new AzurePlaneError(classifyAzureError(err), operation);
  }
}

/** A non-2xx raw answer as the classified error the SDK would have thrown (the body kept, details and all). */
function failureOfAnswer(res: RawAnswer, operation: string): AzurePlaneError {
  const error = (res.body as { error?: { code?: unknown; message?: unknown } } | undefined)?.error;
  const message = typeof error?.message === 'string' ? error.message : `HTTP ${res.status}`;
  const code = typeof error?.code === 'string' ? error.code : undefined;
  const err = new RestError(message, { statusCode: res.status, ...(code ? { code } : {}), request: res.response.request, response: res.response });
  return new AzurePlaneError(classifyAzureError(err), operation);
}

function notFoundFailure(name: string, operation: string): AzurePlaneError {
  return new AzurePlaneError(classifyAzureError({ name: 'RestError', statusCode: 404, code: 'ResourceNotFound', message: `dedicated HSM '${name}' does not exist` }), operation);
}

function sameTags(a: Record<string, string>, b: Record<string, string>): boolean {
  const ka = Object.keys(a);
  return ka.length === Object.keys(b).length && ka.every((k) => a[k] === b[k]);
}

/** Waits `ms`, or less when `signal` fires (the caller's next request then refuses to go out). */
function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  if (signal?.aborted) return Promise.resolve();
  return new Promise((resolve) => {
    const done = (): void => {
      clearTimeout(t);
      signal?.removeEventListener('abort', done);
      resolve();
    };
    const t = setTimeout(done, ms);
    signal?.addEventListener('abort', done, { once: true });
  });
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
