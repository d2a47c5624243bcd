/**
 * A reliability scenario's world: a namespace, a simulated Azure + appliances + LunaCM host (startWorld) with
 * quota and capacity raised for many HSMs, every DedicatedHsm pinned to an explicit private IP so the device
 * address map is known before any operator starts, and unique planted secret values in every Secret the operator
 * reads (appliance, LunaCM and group passwords; client keys), so a leak can be searched for byte for byte.
 *
 * The operator runs either as a child process (childConfig() -> OperatorProcess) or in-process (startInProcess()).
 */
import { randomBytes } from 'node:crypto';
import { Writable } from 'node:stream';
import type { KubeConfig } from '@kubernetes/client-node';
import { inject } from 'vitest';
import { GROUP, VERSION } from '../../src/api/index.js';
import type { DeviceAddress } from '../../src/controllers/shared/index.js';
import { buildOperator, type Operator } from '../../src/operator.js';
import { issueCertificate, type IssuedCertificate } from '../../src/pki/index.js';
import { dedicatedHsm, type DedicatedHsmOptions, type Manifest } from '../../src/sandbox/manifests.js';
import { startWorld, type World } from '../../src/sandbox/world.js';
import { createLogger } from '../../src/runtime/index.js';
import { adminEndpoint, type Endpoint } from './http.js';
import { adminConfig, createNamespace } from './kube.js';
import { staticResolver, type OperatorChildConfig } from './reliability-child-config.js';
import { KubeOps } from './reliability-kube.js';
import { OperatorProcess } from './reliability-process.js';

export const SSH_PORT = 22;
export const NTLS_PORT = 1792;
/** Names of the planted secrets, for reports of a leak. */
export type PlantedKind = 'appliance-password' | 'lunacm-password' | 'group-password' | 'client-key' | 'arm-token';

export interface PlantedSecret {
  kind: PlantedKind;
  /** Where it lives (Secret name). */
  secret: string;
  value: string;
}

export interface ReliabilityWorldOptions {
  prefix: string;
  /** Number of HSMs (named hsm1..hsmN, stamps alternating), default 2. */
  hsms?: number;
  /** Partitions per appliance (labels par0..), default 1. */
  partitions?: number;
  provisioningMs?: number;
  lunacmTimeScale?: number;
  /** A private control plane (apiserver restarts, compaction) instead of the shared one. */
  control?: { endpoint: Endpoint; kubeconfigPath: string; namespace: string };
  /** Group passwords (by group index) override the random planted one: e.g. shell metacharacters. */
  groupPasswords?: string[];
}

export interface GroupSpec {
  label?: string;
  members: { hsm: string; partitionLabel?: string }[];
  passwordSecret: string;
  retries?: number;
  operatorRecovery?: boolean;
  pollInterval?: string;
  maxAttemptsPerWindow?: number;
}

export interface BindingSpec {
  targets: { hsm: string; partitions: string[] }[];
  /** A kubernetes.io/tls Secret name (created by tlsSecret()), else the operator generates the certificate. */
  secretRef?: string;
  hostname?: string;
  clientName?: string;
  driftCheckInterval?: string;
}

const hex = (n = 6): string => randomBytes(n).toString('hex');

export class ReliabilityWorld {
  readonly planted: PlantedSecret[] = [];
  readonly hsmNames: string[];
  readonly ips = new Map<string, string>();
  /** Passwords per group index, planted on the partitions of the group's members. */
  readonly groupPasswords: string[] = [];
  readonly lunacmPassword: string;
  readonly armToken = `arm-token-${hex(12)}`;
  private readonly inProcess = new Set<Operator>();
  private readonly processes = new Set<OperatorProcess>();

  private constructor(
    readonly namespace: string,
    readonly world: World,
    readonly kube: KubeOps,
    readonly kubeconfigPath: string,
    readonly endpoint: Endpoint,
    opts: ReliabilityWorldOptions,
  ) {
    this.hsmNames = [...world.appliances.keys()];
    this.hsmNames.forEach((name, i) => this.ips.set(name, `10.0.2.${10 + i}`));
    this.lunacmPassword = `lunacm-pw-${hex()}`;
    world.lunacm.controls.setPassword(this.lunacmPassword);
    this.planted.push({ kind: 'lunacm-password', secret: 'lunacm-ssh', value: this.lunacmPassword });
    this.planted.push({ kind: 'arm-token', secret: '(operator identity)', value: this.armToken });
    for (let g = 0; g < 4; g++) this.groupPasswords.push(opts.groupPasswords?.[g] ?? `group-pw-${g}-${hex()}`);
  }

  static async start(opts: ReliabilityWorldOptions): Promise<ReliabilityWorld> {
    const count = opts.hsms ?? 2;
    const partitions = opts.partitions ?? 1;
    const world = await startWorld({
      hsms: Array.from({ length: count }, (_, i) => ({
        name: `hsm${i + 1}`,
        stampId: i % 2 === 0 ? ('stamp1' as const) : ('stamp2' as const),
        partitions: Array.from({ length: partitions }, (_p, j) => ({ label: `par${j}`, cloningDomain: 'reliability-domain' })),
      })),
      provisioningMs: opts.provisioningMs ?? 30,
      lunacmTimeScale: opts.lunacmTimeScale ?? 0.01,
    });
    // Room for every HSM of the scenario (the default quota is 2 per stamp, 4 per region), in Azure and in what the
    // operator is told the subscription's quota is (settings.quotaLimits, see childConfig()).
    world.arm.world.setQuota({ perStamp: count + 2, perRegion: count + 4 });
    world.arm.world.setCapacity(count + 2);
    const namespace = opts.control?.namespace ?? (await createNamespace(opts.prefix));
    const endpoint = opts.control?.endpoint ?? adminEndpoint();
    const kubeconfigPath = opts.control?.kubeconfigPath ?? inject('controlPlane').kubeconfigPath;
    const rw = new ReliabilityWorld(namespace, world, new KubeOps(endpoint, namespace), kubeconfigPath, endpoint, opts);
    for (const name of rw.hsmNames) {
      const sim = world.appliances.get(name);
      if (!sim) continue;
      const pw = `appliance-pw-${name}-${hex()}`;
      sim.controls.setPassword(sim.username, pw);
      rw.planted.push({ kind: 'appliance-password', secret: `${name}-appliance`, value: pw });
    }
    return rw;
  }

  // ---- addresses ------------------------------------------------------------------------------------------------

  /** `<ip>:22` / `<ip>:1792` of every HSM and `<lunacm host>:22` -> the simulators on 127.0.0.1. */
  devices(): Record<string, DeviceAddress> {
    const map: Record<string, DeviceAddress> = {};
    for (const [name, ip] of this.ips) {
      const sim = this.world.appliances.get(name);
      if (!sim) continue;
      map[`${ip}:${SSH_PORT}`] = { host: sim.host, port: sim.port };
      map[`${ip}:${NTLS_PORT}`] = { host: sim.host, port: sim.ntlsPort };
    }
    map[`${this.world.lunacmHostName}:${SSH_PORT}`] = { host: this.world.lunacm.host, port: this.world.lunacm.port };
    return map;
  }

  appliance(name: string) {
    const sim = this.world.appliances.get(name);
    if (!sim) throw new Error(`no appliance ${name}`);
    return sim;
  }

  partitionSerial(hsm: string, label = 'par0'): string {
    const p = this.appliance(hsm).state.partitions.find((x) => x.label === label);
    if (!p) throw new Error(`no partition ${label} on ${hsm}`);
    return p.serial;
  }

  // ---- Secrets and objects --------------------------------------------------------------------------------------

  /** The appliance Secret (planted password) and the DedicatedHsm, pinned to its IP. */
  async deployHsm(name: string, o: DedicatedHsmOptions = {}): Promise<void> {
    const pw = this.planted.find((p) => p.kind === 'appliance-password' && p.secret === `${name}-appliance`)?.value;
    if (pw === undefined) throw new Error(`no planted password for ${name}`);
    if (!(await this.kube.find('Secret', `${name}-appliance`))) await this.kube.secret(`${name}-appliance`, { password: pw });
    await this.kube.apply(this.hsmManifest(name, o));
  }

  hsmManifest(name: string, o: DedicatedHsmOptions = {}): Manifest {
    const i = this.hsmNames.indexOf(name);
    return dedicatedHsm(this.world, name, { stampId: i % 2 === 0 ? 'stamp1' : 'stamp2', privateIpAddress: this.ips.get(name), ...o });
  }

  /** The LunaCM SSH Secret and group password Secret `ha-password-<g>`; plants the group password on the members' partitions. */
  async groupSecrets(groups: { index: number; members: { hsm: string; partitionLabel?: string }[] }[]): Promise<void> {
    if (!(await this.kube.find('Secret', 'lunacm-ssh'))) await this.kube.secret('lunacm-ssh', { password: this.lunacmPassword });
    for (const g of groups) {
      const pw = this.groupPasswords[g.index] ?? `group-pw-${hex()}`;
      for (const m of g.members) {
        const p = this.appliance(m.hsm).state.partitions.find((x) => x.label === (m.partitionLabel ?? 'par0'));
        if (p) p.coPassword = pw;
      }
      const secret = `ha-password-${g.index}`;
      if (!(await this.kube.find('Secret', secret))) await this.kube.secret(secret, { password: pw });
      this.planted.push({ kind: 'group-password', secret, value: pw });
    }
  }

  haGroupManifest(name: string, g: GroupSpec): Manifest {
    return {
      apiVersion: `${GROUP}/${VERSION}`,
      kind: 'HsmHaGroup',
      metadata: { name },
      spec: {
        label: g.label ?? name.replace(/[^A-Za-z0-9]/g, ''),
        members: g.members.map((m) => ({ dedicatedHsmRef: { name: m.hsm }, partitionLabel: m.partitionLabel ?? 'par0' })),
        client: { host: this.world.lunacmHostName, username: this.world.lunacm.username, credentialsRef: { name: 'lunacm-ssh' }, hostKey: this.world.lunacm.hostKeyFingerprint },
        passwordSecretRef: { name: g.passwordSecret },
        recovery: { autoRecoveryRetries: g.retries ?? 0, autoRecoveryInterval: 60, operatorRecovery: g.operatorRecovery ?? true, maxAttemptsPerWindow: g.maxAttemptsPerWindow ?? 3, window: '1h' },
        synchronize: true,
        pollInterval: g.pollInterval ?? '5s',
      },
    };
  }

  /** A kubernetes.io/tls Secret with a fresh client certificate; its private key is planted. */
  async tlsSecret(name: string, commonName: string): Promise<IssuedCertificate> {
    const cert = await issueCertificate({ commonName, dnsNames: [commonName], keyAlgorithm: 'ECDSAP256' });
    await this.kube.apply({ apiVersion: 'v1', kind: 'Secret', metadata: { name }, type: 'kubernetes.io/tls', stringData: { 'tls.crt': cert.certPem, 'tls.key': cert.keyPem } });
    this.plantKey(name, cert.keyPem);
    return cert;
  }

  /** Plants a PEM private key: its base64 body (what any leak of it would contain). */
  plantKey(secret: string, keyPem: string): void {
    const body = keyPem.replace(/-----[^-]+-----/g, '').replace(/\s+/g, '');
    this.planted.push({ kind: 'client-key', secret, value: body.slice(8, 72) });
  }

  bindingManifest(name: string, b: BindingSpec): Manifest {
    return {
      apiVersion: `${GROUP}/${VERSION}`,
      kind: 'NtlsClientBinding',
      metadata: { name },
      spec: {
        clientName: b.clientName ?? name,
        identity: { hostname: b.hostname ?? `${name}.apps.internal` },
        certificate: b.secretRef ? { secretRef: { name: b.secretRef } } : { generate: { keyAlgorithm: 'ECDSAP256' } },
        targets: b.targets.map((t) => ({ dedicatedHsmRef: { name: t.hsm }, partitions: t.partitions })),
        ...(b.driftCheckInterval ? { driftCheckInterval: b.driftCheckInterval } : {}),
      },
    };
  }

  // ---- operators ------------------------------------------------------------------------------------------------

  /** The config of an operator child for this world. */
  childConfig(o: Partial<OperatorChildConfig> = {}): OperatorChildConfig {
    return {
      kubeconfigPath: this.kubeconfigPath,
      namespace: this.namespace,
      arm: { endpoint: this.world.arm.endpoint, caPem: this.world.arm.caPem, token: this.armToken },
      devices: this.devices(),
      logLevel: 'info',
      compressedTime: { ntlsSpecScale: 1 / 60 },
      ...o,
      settings: {
        gatewayWaitInitialMs: 200,
        gatewayWaitMaxMs: 2_000,
        needsHumanRecheckMs: 60_000,
        ntlsTimeoutMs: 2_000,
        operationPollMs: 200,
        quotaLimits: { perStamp: this.hsmNames.length + 2, perRegion: this.hsmNames.length + 4 },
        ...o.settings,
      },
    };
  }

  /** Starts an operator child; it is stopped by stop() at the latest. */
  async spawn(name: string, o: Partial<OperatorChildConfig> = {}): Promise<OperatorProcess> {
    const p = await OperatorProcess.start(name, this.childConfig(o));
    this.processes.add(p);
    return p;
  }

  /** Every operator process started so far (dead ones too: their logs are evidence). */
  get operatorProcesses(): OperatorProcess[] {
    return [...this.processes];
  }

  /**
   * The operator in this process, with its JSON log lines captured in `logs` (the same createLogger as the child):
   * for scenarios that script faults between operator steps.
   */
  async startInProcess(o: { settings?: OperatorChildConfig['settings']; controllers?: OperatorChildConfig['controllers']; kubeConfig?: KubeConfig; logs?: string[] } = {}): Promise<Operator> {
    const logs = o.logs;
    const destination = new Writable({
      write(chunk: Buffer, _enc, cb) {
        logs?.push(chunk.toString('utf8'));
        cb();
      },
    });
    const config = this.childConfig({ ...(o.settings ? { settings: o.settings } : {}) });
    const op = buildOperator({
      manager: {
        kubeConfig: o.kubeConfig ?? adminConfig(),
        namespaces: [this.namespace],
        leaderElection: false,
        metricsBindAddress: '127.0.0.1:0',
        healthProbeBindAddress: '127.0.0.1:0',
        log: createLogger({ level: logs ? 'debug' : 'silent', name: 'hsm-operator', destination }),
      },
      azure: { connection: this.world.azure.connection, defaultCredential: { kind: 'static', key: 'reliability', credential: { getToken: () => Promise.resolve({ token: this.armToken, expiresOnTimestamp: Date.now() + 3_600_000 }) } } },
      resolve: staticResolver(config.devices),
      ...(config.settings ? { settings: config.settings } : {}),
      ...(config.compressedTime ? { compressedTime: config.compressedTime } : {}),
      ...(o.controllers ? { controllers: o.controllers } : {}),
    });
    await op.start();
    this.inProcess.add(op);
    return op;
  }

  async stopInProcess(op: Operator): Promise<void> {
    this.inProcess.delete(op);
    await op.stop(5_000);
  }

  async stop(): Promise<void> {
    await Promise.all([...this.processes].map((p) => p.stop(5_000)));
    await Promise.all([...this.inProcess].map((op) => op.stop(5_000)));
    await this.world.stop();
  }
}
