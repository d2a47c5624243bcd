/**
 * What makes `hsm-operator plan` read-only by construction rather than by care: each plane it is handed refuses
 * writes before anything is sent, and records what was refused, so a plan can say (and a test can assert) that
 * nothing was attempted.
 *
 *   Kubernetes  ReadOnlyTransport: GET only; POST/PUT/PATCH/DELETE and watches are refused and recorded.
 *               RecordingStatusWriter: the manager's status writer (shared/appliance.ts persistGuard writes through
 *               it when an appliance rejects a password) records the attempt and writes nothing.
 *   Azure       readOnlyAzurePlane: create, delete and tag updates throw; the ARM pipeline under it is built with
 *               `readOnly` too (azure/throttle.ts readOnlyPolicy), so no code path can send a PUT/PATCH/DELETE.
 *   Device      PlanDevicePlane: only the appliance's read commands exist; registering, uploading, revoking,
 *               LunaCM changes and zeroize throw. Whether an appliance is contacted at all is asked per login.
 */
import type { AzurePlane } from '../azure/index.js';
import type { ApplianceOps, DevicePlane, LunaCmOps, SshEndpoint, TcpProbe } from '../luna/index.js';
import { LunaError } from '../luna/index.js';
import { StatusWriter, type ApiRequest, type ApiResponse, type KubeClient, type KubeObject, type ResourceType, type StatusMutator, type StatusUpdateOptions, type StatusUpdateResult, type StreamRequest, type Transport } from '../runtime/index.js';

/** A write a read-only plane refused (nothing was sent). */
export interface RefusedWrite {
  plane: 'kubernetes' | 'azure' | 'device';
  what: string;
}

/** Thrown where a write was asked of a read-only plane. */
export class ReadOnlyError extends Error {
  override readonly name = 'ReadOnlyError';
}

// ---------------------------------------------------------------------------------------------------------------
// Kubernetes

/** A Transport that sends GETs only: anything else is recorded and refused without reaching the API server. */
export class ReadOnlyTransport implements Transport {
  readonly refused: RefusedWrite[] = [];
  /** GETs sent, for the plan's footer. */
  reads = 0;

  constructor(private readonly inner: Transport) {}

  get host(): string | undefined {
    return this.inner.host;
  }

  async request(req: ApiRequest): Promise<ApiResponse> {
    if (req.verb !== 'GET') {
      const what = `${req.verb} ${req.path}`;
      this.refused.push({ plane: 'kubernetes', what });
      throw new ReadOnlyError(`not sending ${what}: plan is read-only`);
    }
    this.reads++;
    return this.inner.request(req);
  }

  async stream(req: StreamRequest): Promise<void> {
    // A watch writes nothing, but plan has no use for one: refusing it keeps a plan to single reads.
    this.refused.push({ plane: 'kubernetes', what: `WATCH ${req.path}` });
    throw new ReadOnlyError(`not watching ${req.path}: plan reads each object once`);
  }
}

/**
 * The status writer of plan's manager: an update (persistGuard's, when an appliance rejects a password) is recorded
 * and not written, so the rejection still reaches the pass as the operator would see it, and nothing reaches the API.
 */
export class RecordingStatusWriter extends StatusWriter {
  readonly attempted: RefusedWrite[] = [];

  constructor(client: KubeClient) {
    super(client);
  }

  override async update<T extends KubeObject>(type: ResourceType, obj: T, _mutate?: StatusMutator<T>, _options?: StatusUpdateOptions): Promise<StatusUpdateResult<T>> {
    this.attempted.push({ plane: 'kubernetes', what: `status of ${type.kind} ${obj.metadata?.namespace ?? ''}/${obj.metadata?.name ?? ''}` });
    return { object: obj, written: false };
  }
}

// ---------------------------------------------------------------------------------------------------------------
// Azure

/** The plane with its three writes refused (and recorded); every read goes to `inner`. */
export function readOnlyAzurePlane(inner: AzurePlane, refused: RefusedWrite[]): AzurePlane {
  const refuse = (what: string): never => {
    refused.push({ plane: 'azure', what });
    throw new ReadOnlyError(`not sending ${what} to Azure: plan is read-only`);
  };
  return {
    getGateway: (...a) => inner.getGateway(...a),
    getSubnet: (...a) => inner.getSubnet(...a),
    getNic: (...a) => inner.getNic(...a),
    getFeature: (...a) => inner.getFeature(...a),
    getHsm: (...a) => inner.getHsm(...a),
    listHsms: (...a) => inner.listHsms(...a),
    quotaView: (...a) => inner.quotaView(...a),
    pollCreate: (...a) => inner.pollCreate(...a),
    pollDelete: (...a) => inner.pollDelete(...a),
    beginCreateHsm: async (spec) => refuse(`PUT of HSM ${spec.name}`),
    beginDeleteHsm: async (_s, _rg, name) => refuse(`DELETE of HSM ${name}`),
    updateTags: async (_s, _rg, name) => refuse(`PATCH (tags) of HSM ${name}`),
    withSignal: (signal) => readOnlyAzurePlane(inner.withSignal(signal), refused),
  };
}

// ---------------------------------------------------------------------------------------------------------------
// Device

/** Why plan did not log in to an appliance (the plan shows the operator's last reading instead). */
export class NotContactedError extends LunaError {
  override name = 'NotContactedError';
}

/** Whether plan may log in with this endpoint's credential; `why` is said when it may not. */
export type ContactPolicy = (endpoint: SshEndpoint) => { ok: true } | { ok: false; why: string };

/** A device plane with only read commands; `allow` decides per login whether the appliance is contacted at all. */
export class PlanDevicePlane implements DevicePlane {
  /** Appliances plan logged in to (host:port). */
  readonly contacted: string[] = [];
  /** Why an appliance was not contacted, per host:port. */
  readonly heldBack = new Map<string, string>();

  constructor(
    private readonly inner: DevicePlane | undefined,
    private readonly allow: ContactPolicy,
    private readonly refused: RefusedWrite[],
  ) {}

  private refuse(what: string): never {
    this.refused.push({ plane: 'device', what });
    throw new ReadOnlyError(`not sending ${what}: plan is read-only`);
  }

  appliance(endpoint: SshEndpoint, opts: Parameters<DevicePlane['appliance']>[1] = {}): ApplianceOps {
    const at = `${endpoint.host}:${endpoint.port ?? 22}`;
    const verdict = this.inner ? this.allow(endpoint) : { ok: false as const, why: 'appliances are not contacted (run plan with --appliance to read them)' };
    const read = <T>(fn: (ops: ApplianceOps) => Promise<T>): Promise<T> => {
      if (!verdict.ok || !this.inner) {
        this.heldBack.set(at, verdict.ok ? 'no device plane' : verdict.why);
        return Promise.reject(new NotContactedError(verdict.ok ? 'not contacted' : verdict.why));
      }
      if (!this.contacted.includes(at)) this.contacted.push(at);
      return fn(this.inner.appliance(endpoint, opts));
    };
    return {
      show: () => read((o) => o.show()),
      packages: () => read((o) => o.packages()),
      partitions: () => read((o) => o.partitions()),
      ntls: () => read((o) => o.ntls()),
      clients: () => read((o) => o.clients()),
      client: (name) => read((o) => o.client(name)),
      clientFingerprint: (name) => read((o) => o.clientFingerprint(name)),
      downloadFile: (name) => read((o) => o.downloadFile(name)),
      serverCertificate: () => read((o) => o.serverCertificate()),
      registerClient: async (name) => this.refuse(`client register ${name} on ${at}`),
      assignPartition: async (client, partition) => this.refuse(`client assignPartition ${client} ${partition} on ${at}`),
      revokePartition: async (client, partition) => this.refuse(`client revokePartition ${client} ${partition} on ${at}`),
      deleteClient: async (name) => this.refuse(`client delete ${name} on ${at}`),
      uploadFile: async (name) => this.refuse(`scp upload ${name} to ${at}`),
    };
  }

  lunaCm(endpoint: SshEndpoint): LunaCmOps {
    // HA groups are planned from the cluster only: no LunaCM host is contacted, not even to read.
    const at = `${endpoint.host}:${endpoint.port ?? 22}`;
    const no = (what: string) => async (): Promise<never> => this.refuse(`lunacm ${what} on ${at}`);
    return {
      listGroups: async () => Promise.reject(new NotContactedError('LunaCM hosts are not contacted by plan')),
      createGroup: no('hagroup creategroup'),
      addMember: no('hagroup addmember'),
      removeMember: no('hagroup removemember'),
      recover: no('hagroup recover'),
      setAutoRecoveryRetries: no('hagroup retry'),
      setAutoRecoveryInterval: no('hagroup interval'),
      synchronize: no('hagroup synchronize'),
    };
  }

  zeroize(endpoint: SshEndpoint): never {
    return this.refuse(`zeroize of ${endpoint.host}`);
  }

  probeNtls(): never {
    return this.refuse('an NTLS handshake');
  }

  async probeTcp(address: { host: string; port: number }, timeoutMs: number, opts?: Parameters<DevicePlane['probeTcp']>[2]): Promise<TcpProbe> {
    // A TCP connect sends nothing, but it is device traffic all the same: only with --appliance.
    if (!this.inner) return { ok: false, timedOut: false, detail: 'not contacted by plan' };
    return this.inner.probeTcp(address, timeoutMs, opts);
  }

  observedHostKey(host: string, port?: number): string | undefined {
    return this.inner?.observedHostKey(host, port);
  }
}
