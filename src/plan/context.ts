/**
 * The OperatorContext `plan` hands to the DedicatedHsm phases: built like src/operator.ts builds the operator's, with
 * each plane read-only by construction (read-only.ts). A Manager over a client that only sends GETs, whose status
 * writer records and writes nothing; Azure planes from the same AzurePlaneCache the operator uses, with the ARM
 * pipeline refusing anything but GET; and a device plane of read commands only, which logs in (with --appliance)
 * only where no rejection of the same Secret is on record.
 */
import { randomBytes } from 'node:crypto';
import { Registry } from 'prom-client';
import type { DedicatedHsm } from '../api/index.js';
import { AzurePlaneCache, type AzurePlane, type ArmConnection, type CredentialSource } from '../azure/index.js';
import { DEFAULT_SETTINGS, dialAsIs, digestWith, type AzureCredentialRequest, type EndpointResolver, type OperatorContext, type OperatorSettings } from '../controllers/shared/index.js';
import { CredentialGuard, SshDevicePlane, SshPool, type DevicePlane } from '../luna/index.js';
import { createHsmMetrics } from '../observability/hsm-metrics.js';
import { operatorCaches } from '../operator.js';
import { KubeClient, Manager, realClock, RuntimeMetrics, SecretCache, silentLogger, type Clock, type Logger } from '../runtime/index.js';
import { PlanDevicePlane, readOnlyAzurePlane, ReadOnlyTransport, RecordingStatusWriter, type RefusedWrite } from './read-only.js';

export interface PlanContextOptions {
  /** The cluster to read (its transport is wrapped; nothing but GETs goes through). */
  kube: KubeClient;
  azure: { connection: ArmConnection; defaultCredential: CredentialSource };
  /** Log in to appliances for their read commands, where no rejection of the same Secret is recorded (default off). */
  appliance?: boolean;
  /** How device addresses are dialled (tests map them to simulators). */
  resolve?: EndpointResolver;
  settings?: Partial<OperatorSettings>;
  log?: Logger;
  clock?: Clock;
}

/** A Manager whose status writer writes nothing (persistGuard is the one write observe can reach). */
class PlanManager extends Manager {
  override readonly status: RecordingStatusWriter;

  constructor(client: KubeClient, log: Logger, clock: Clock) {
    super({ client, log, clock, metrics: new RuntimeMetrics(), leaderElection: false, metricsBindAddress: '0', healthProbeBindAddress: '0' });
    this.status = new RecordingStatusWriter(this.client);
  }
}

export interface PlanContext {
  /** The context without a device plane of its own: `forObject` gives each DedicatedHsm one. */
  readonly base: OperatorContext;
  readonly transport: ReadOnlyTransport;
  /** Writes the Azure and device planes refused (the Kubernetes ones are on `transport`). */
  readonly refused: RefusedWrite[];
  readonly statusWriter: RecordingStatusWriter;
  /** Whether appliances may be contacted at all (--appliance). */
  readonly applianceContact: boolean;
  /** The context for one DedicatedHsm: its device plane logs in only if its status records no rejection of that Secret. */
  forObject(hsm: DedicatedHsm): { ctx: OperatorContext; device: PlanDevicePlane };
  /** Every write a plane refused, Kubernetes first (status writes persistGuard asked for are on `statusWriter`). */
  refusedWrites(): RefusedWrite[];
  close(): Promise<void>;
}

export function buildPlanContext(o: PlanContextOptions): PlanContext {
  const transport = new ReadOnlyTransport(o.kube.transport);
  const client = new KubeClient(transport);
  const log = o.log ?? silentLogger;
  const clock = o.clock ?? realClock;
  const manager = new PlanManager(client, log, clock);
  const refused: RefusedWrite[] = [];
  const guard = new CredentialGuard();
  const planes = new AzurePlaneCache({ ...o.azure.connection, readOnly: true });
  const azure = (req: AzureCredentialRequest): AzurePlane => readOnlyAzurePlane(planes.get(req.kind === 'default' ? o.azure.defaultCredential : req), refused);
  const pool = o.appliance ? new SshPool({ guard, connectAttempts: 1 }) : undefined;
  const inner: DevicePlane | undefined = pool ? new SshDevicePlane(pool) : undefined;
  // The operator's digest key lives in its own namespace, which plan may not read (and must not create): plan's
  // digests are its own, so plan never lifts a rejection by digest; a record for the Secret holds plan back at all.
  const key = randomBytes(32);
  const base: OperatorContext = {
    manager,
    log,
    clock,
    caches: operatorCaches(manager),
    secrets: new SecretCache({ client, clock, log }),
    device: new PlanDevicePlane(undefined, () => ({ ok: false, why: 'no object' }), refused),
    guard,
    digest: (value) => Promise.resolve(digestWith(key, value)),
    azure,
    resolve: o.resolve ?? dialAsIs,
    metrics: createHsmMetrics(new Registry()),
    settings: { ...DEFAULT_SETTINGS, ...o.settings },
  };
  return {
    base,
    transport,
    refused,
    statusWriter: manager.status,
    applianceContact: Boolean(o.appliance),
    forObject(hsm) {
      const records = (hsm.status?.credentialGuard ?? []).filter((r) => r.role === 'appliance-ssh');
      const device = new PlanDevicePlane(
        inner,
        (endpoint) => {
          const secret = endpoint.credential.secret;
          const r = records.find((x) => x.secretUid === secret.uid);
          if (r) {
            return {
              ok: false,
              why: `the operator recorded a rejection of the password in Secret ${r.secretName ?? `uid ${r.secretUid}`} at ${r.rejectedAt}; plan does not log in with that Secret (the operator tries a new value once)`,
            };
          }
          // Invariant 1: plan cannot record a rejection, so it logs in only with a value the operator has proven;
          // a value the operator has not tried yet is the operator's to try, once.
          const accepted = hsm.status?.appliance?.credentialAccepted;
          if (accepted?.secretUid === secret.uid && accepted.resourceVersion === secret.resourceVersion) return { ok: true };
          return {
            ok: false,
            why: `the operator has not logged in with Secret ${secret.name ?? `uid ${secret.uid}`} as it is now (resourceVersion ${secret.resourceVersion}); plan logs in only with the version the operator last logged in with (status.appliance.credentialAccepted), so a wrong value is never tried twice`,
          };
        },
        refused,
      );
      return { ctx: { ...base, device }, device };
    },
    refusedWrites: () => [...transport.refused, ...refused],
    async close() {
      await pool?.close();
    },
  };
}
