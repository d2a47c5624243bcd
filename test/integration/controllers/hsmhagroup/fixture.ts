/**
 * A namespace, a simulated world (ARM, two appliances, a LunaCM client host), the real operator with all its
 * controllers, the DedicatedHsms deployed by the real DedicatedHsm controller (members resolve through their real
 * status: NIC address, ApplianceReachable), and the Secrets an HA group needs. Each test file starts one.
 */
import { GROUP, VERSION, type Condition, type HsmHaGroup } from '../../../../src/api/index.js';
import type { Operator } from '../../../../src/operator.js';
import { applianceSecret, dedicatedHsm, type Manifest } from '../../../../src/sandbox/manifests.js';
import { startWorld, WORLD_PASSWORDS, type World, type WorldHsm } from '../../../../src/sandbox/world.js';
import { adminEndpoint, call, type Reply } from '../../../support/http.js';
import { createNamespace } from '../../../support/kube.js';
import { startTestOperator } from '../../../support/operator.js';
import { waitFor } from '../../../support/wait.js';

export const LUNACM_SECRET = 'lunacm-ssh';
export const GROUP_PASSWORD_SECRET = 'ha-password';

const ep = adminEndpoint();
const path = (ns: string, plural: string, name?: string) => `/apis/${GROUP}/${VERSION}/namespaces/${ns}/${plural}${name ? `/${name}` : ''}`;

function ok(r: Reply, what: string): Reply {
  if (r.status >= 300) throw new Error(`${what}: HTTP ${r.status} ${r.text}`);
  return r;
}

export interface HaFixture {
  namespace: string;
  world: World;
  operator: Operator;
  apply(m: Manifest): Promise<Record<string, unknown>>;
  getGroup(name: string): Promise<HsmHaGroup>;
  patchGroup(name: string, patch: unknown): Promise<void>;
  setSecret(name: string, password: string): Promise<void>;
  restartOperator(): Promise<void>;
  stop(): Promise<void>;
}

export interface FixtureOptions {
  prefix: string;
  hsms?: WorldHsm[];
}

export async function startHaFixture(o: FixtureOptions): Promise<HaFixture> {
  const namespace = await createNamespace(o.prefix);
  const hsms = o.hsms ?? [
    { name: 'hsm1', stampId: 'stamp1' },
    { name: 'hsm2', stampId: 'stamp2' },
  ];
  const world = await startWorld({ hsms, lunacmTimeScale: 0.01 });
  // All three controllers: the DedicatedHsm controller deploys the HSMs, so members resolve through real status.
  const start = () => startTestOperator({ namespace, world });
  let operator = await start();

  const secretsPath = `/api/v1/namespaces/${namespace}/secrets`;
  const apply = async (m: Manifest): Promise<Record<string, unknown>> => {
    const isSecret = m.kind === 'Secret';
    const plural = isSecret ? '' : m.kind === 'DedicatedHsm' ? 'dedicatedhsms' : 'hsmhagroups';
    const r = await call(ep, 'POST', `${isSecret ? secretsPath : path(namespace, plural)}?fieldValidation=Strict`, m);
    return ok(r, `create ${m.kind} ${m.metadata.name}`).body;
  };
  const fx: HaFixture = {
    namespace,
    world,
    get operator() {
      return operator;
    },
    apply,
    async getGroup(name) {
      return ok(await call(ep, 'GET', path(namespace, 'hsmhagroups', name)), `get ${name}`).body as unknown as HsmHaGroup;
    },
    async patchGroup(name, patch) {
      ok(await call(ep, 'PATCH', path(namespace, 'hsmhagroups', name), patch, 'application/merge-patch+json'), `patch ${name}`);
    },
    async setSecret(name, password) {
      ok(await call(ep, 'PATCH', `${secretsPath}/${name}`, { stringData: { password } }, 'application/merge-patch+json'), `patch Secret ${name}`);
    },
    async restartOperator() {
      await operator.stop(5_000);
      operator = await start();
    },
    async stop() {
      await operator.stop(5_000);
      await world.stop();
    },
  };

  await apply({ apiVersion: 'v1', kind: 'Secret', metadata: { name: LUNACM_SECRET, annotations: { 'dedicatedhsm.io/credential-for': 'HsmHaGroup/*' } }, type: 'Opaque', stringData: { password: WORLD_PASSWORDS.lunacm } });
  await apply({ apiVersion: 'v1', kind: 'Secret', metadata: { name: GROUP_PASSWORD_SECRET, annotations: { 'dedicatedhsm.io/credential-for': 'HsmHaGroup/*' } }, type: 'Opaque', stringData: { password: WORLD_PASSWORDS.partition } });
  for (const h of hsms) {
    await apply(applianceSecret(`${h.name}-appliance`));
    await apply(dedicatedHsm(world, h.name, { stampId: h.stampId ?? 'stamp1' }));
  }
  for (const h of hsms) {
    await waitFor(
      `DedicatedHsm ${h.name} deployed with its appliance reachable`,
      async () => {
        const r = await call(ep, 'GET', path(namespace, 'dedicatedhsms', h.name));
        const status = r.body.status as { privateIpAddress?: string; conditions?: Condition[] } | undefined;
        return Boolean(status?.privateIpAddress) && status?.conditions?.some((c) => c.type === 'ApplianceReachable' && c.status === 'True');
      },
      45_000,
      200,
    );
  }
  return fx;
}

export interface GroupOptions {
  label?: string;
  members?: { hsm: string; partitionLabel?: string; partitionSerial?: string }[];
  retries?: number;
  interval?: number;
  operatorRecovery?: boolean;
  maxAttemptsPerWindow?: number;
  window?: string;
  synchronize?: boolean;
  pollInterval?: string;
  passwordSecret?: string;
  annotations?: Record<string, string>;
}

export function haGroup(world: World, name: string, o: GroupOptions = {}): Manifest {
  const members = o.members ?? [
    { hsm: 'hsm1', partitionLabel: 'par0' },
    { hsm: 'hsm2', partitionLabel: 'par0' },
  ];
  return {
    apiVersion: `${GROUP}/${VERSION}`,
    kind: 'HsmHaGroup',
    metadata: { name, ...(o.annotations ? { annotations: o.annotations } : {}) },
    spec: {
      label: o.label ?? name.replace(/[^A-Za-z0-9]/g, ''),
      members: members.map((m) => ({
        dedicatedHsmRef: { name: m.hsm },
        ...(m.partitionSerial ? { partitionSerial: m.partitionSerial } : { partitionLabel: m.partitionLabel ?? 'par0' }),
      })),
      client: { host: world.lunacmHostName, username: world.lunacm.username, credentialsRef: { name: LUNACM_SECRET }, hostKey: world.lunacm.hostKeyFingerprint },
      passwordSecretRef: { name: o.passwordSecret ?? GROUP_PASSWORD_SECRET },
      recovery: {
        autoRecoveryRetries: o.retries ?? 0,
        autoRecoveryInterval: o.interval ?? 60,
        operatorRecovery: o.operatorRecovery ?? true,
        maxAttemptsPerWindow: o.maxAttemptsPerWindow ?? 3,
        window: o.window ?? '1h',
      },
      synchronize: o.synchronize ?? true,
      pollInterval: o.pollInterval ?? '5s',
    },
  };
}

export function condition(g: HsmHaGroup, type: string): Condition | undefined {
  return g.status?.conditions?.find((c) => c.type === type);
}

/** The partition serial of a world appliance's partition, by label. */
export function partitionSerial(world: World, hsm: string, label = 'par0'): string {
  const p = world.appliances.get(hsm)?.state.partitions.find((x) => x.label === label);
  if (!p) throw new Error(`no partition ${label} on ${hsm}`);
  return p.serial;
}
