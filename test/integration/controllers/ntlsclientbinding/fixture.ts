/**
 * A namespace, a simulated world (ARM + appliances), the real operator (all three controllers: the DedicatedHsm
 * controller deploys the HSMs and fills in their addresses), the DedicatedHsms deployed, and helpers to apply and
 * read bindings, Secrets and Events. Each test file starts one.
 */
import { GROUP, VERSION, type Condition, type NtlsClientBinding } from '../../../../src/api/index.js';
import type { Operator } from '../../../../src/operator.js';
import { issueCertificate, type IssuedCertificate } from '../../../../src/pki/index.js';
import { applianceSecret, dedicatedHsm, type Manifest } from '../../../../src/sandbox/manifests.js';
import { startWorld, type World, type WorldHsm } from '../../../../src/sandbox/world.js';
import { adminEndpoint, call, type Reply } from '../../../support/http.js';
import { createNamespace } from '../../../support/kube.js';
import { startTestOperator, type TestOperatorOptions } from '../../../support/operator.js';
import { waitFor } from '../../../support/wait.js';

const ep = adminEndpoint();
const crPath = (ns: string, plural: string, name?: string) => `/apis/${GROUP}/${VERSION}/namespaces/${ns}/${plural}${name ? `/${name}` : ''}`;
const secretPath = (ns: string, name?: string) => `/api/v1/namespaces/${ns}/secrets${name ? `/${name}` : ''}`;

function ok(r: Reply, what: string): Reply {
  if (r.status >= 300) throw new Error(`${what}: HTTP ${r.status} ${r.text}`);
  return r;
}

export interface SecretBody {
  metadata: { name: string; resourceVersion: string; ownerReferences?: { kind: string; name: string; uid: string; controller?: boolean }[]; annotations?: Record<string, string> };
  type: string;
  data: Record<string, string>;
}

export interface EventLike {
  reason?: string;
  note?: string;
  type?: string;
  regarding?: { name?: string };
  series?: { count: number };
}

export interface BindingFixture {
  namespace: string;
  world: World;
  operator: Operator;
  apply(m: Manifest): Promise<Record<string, unknown>>;
  binding(name: string): Promise<NtlsClientBinding>;
  bindingIfExists(name: string): Promise<NtlsClientBinding | undefined>;
  patchBinding(name: string, patch: unknown): Promise<void>;
  deleteBinding(name: string): Promise<void>;
  secret(name: string): Promise<SecretBody>;
  /** A Secret's decoded data. */
  secretData(name: string): Promise<Record<string, string>>;
  putTlsSecret(name: string, pair: { certPem: string; keyPem: string }): Promise<void>;
  /** IP address Azure gave the HSM (what Chrystoki.conf names). */
  hsmAddress(name: string): Promise<string>;
  deployHsm(name: string): Promise<void>;
  events(binding: string, reason?: string): Promise<EventLike[]>;
  /** Value of a counter of the operator's HSM metrics. */
  metric(name: string, labels: Record<string, string>): Promise<number>;
  stop(): Promise<void>;
}

export interface FixtureOptions {
  prefix: string;
  hsms: WorldHsm[];
  /** HSMs to deploy right away (default all). */
  deploy?: string[];
  settings?: TestOperatorOptions['settings'];
  compressedTime?: TestOperatorOptions['compressedTime'];
}

export async function startBindingFixture(o: FixtureOptions): Promise<BindingFixture> {
  const namespace = await createNamespace(o.prefix);
  const world = await startWorld({ hsms: o.hsms });
  const operator = await startTestOperator({ namespace, world, ...(o.settings ? { settings: o.settings } : {}), ...(o.compressedTime ? { compressedTime: o.compressedTime } : {}) });

  const apply = async (m: Manifest): Promise<Record<string, unknown>> => {
    const path = m.kind === 'Secret' ? secretPath(namespace) : crPath(namespace, m.kind === 'DedicatedHsm' ? 'dedicatedhsms' : 'ntlsclientbindings');
    return ok(await call(ep, 'POST', `${path}?fieldValidation=Strict`, m), `create ${m.kind} ${m.metadata.name}`).body;
  };
  const getHsm = async (name: string) => ok(await call(ep, 'GET', crPath(namespace, 'dedicatedhsms', name)), `get DedicatedHsm ${name}`).body as { status?: { privateIpAddress?: string; conditions?: Condition[] } };

  const fx: BindingFixture = {
    namespace,
    world,
    operator,
    apply,
    async binding(name) {
      return ok(await call(ep, 'GET', crPath(namespace, 'ntlsclientbindings', name)), `get binding ${name}`).body as unknown as NtlsClientBinding;
    },
    async bindingIfExists(name) {
      const r = await call(ep, 'GET', crPath(namespace, 'ntlsclientbindings', name));
      if (r.status === 404) return undefined;
      return ok(r, `get binding ${name}`).body as unknown as NtlsClientBinding;
    },
    async patchBinding(name, patch) {
      ok(await call(ep, 'PATCH', crPath(namespace, 'ntlsclientbindings', name), patch, 'application/merge-patch+json'), `patch binding ${name}`);
    },
    async deleteBinding(name) {
      ok(await call(ep, 'DELETE', crPath(namespace, 'ntlsclientbindings', name)), `delete binding ${name}`);
    },
    async secret(name) {
      return ok(await call(ep, 'GET', secretPath(namespace, name)), `get Secret ${name}`).body as unknown as SecretBody;
    },
    async secretData(name) {
      const s = await fx.secret(name);
      return Object.fromEntries(Object.entries(s.data ?? {}).map(([k, v]) => [k, Buffer.from(v, 'base64').toString('utf8')]));
    },
    async putTlsSecret(name, pair) {
      const body = { apiVersion: 'v1', kind: 'Secret', metadata: { name }, type: 'kubernetes.io/tls', stringData: { 'tls.crt': pair.certPem, 'tls.key': pair.keyPem } };
      const r = await call(ep, 'GET', secretPath(namespace, name));
      if (r.status === 404) ok(await call(ep, 'POST', secretPath(namespace), body), `create Secret ${name}`);
      else ok(await call(ep, 'PATCH', secretPath(namespace, name), { stringData: body.stringData }, 'application/merge-patch+json'), `patch Secret ${name}`);
    },
    async hsmAddress(name) {
      const ip = (await getHsm(name)).status?.privateIpAddress;
      if (!ip) throw new Error(`DedicatedHsm ${name} has no address yet`);
      return ip;
    },
    async deployHsm(name) {
      await apply(applianceSecret(`${name}-appliance`));
      await apply(dedicatedHsm(world, name, { stampId: o.hsms.find((h) => h.name === name)?.stampId ?? 'stamp1' }));
    },
    async events(binding, reason) {
      const r = await call(ep, 'GET', `/apis/events.k8s.io/v1/namespaces/${namespace}/events`);
      return ((r.body.items ?? []) as EventLike[]).filter((e) => e.regarding?.name === binding && (reason === undefined || e.reason === reason));
    },
    async metric(name, labels) {
      const m = operator.manager.metrics.registry.getSingleMetric(name);
      const values = (await m?.get())?.values ?? [];
      return values.filter((v) => Object.entries(labels).every(([k, x]) => v.labels[k] === x)).reduce((s, v) => s + v.value, 0);
    },
    async stop() {
      await operator.stop(5_000);
      await world.stop();
    },
  };

  const deploy = o.deploy ?? o.hsms.map((h) => h.name);
  for (const name of deploy) await fx.deployHsm(name);
  for (const name of deploy) await waitForHsm(fx, name);
  return fx;
}

/** Waits until the DedicatedHsm controller deployed the HSM and reached its appliance. */
export async function waitForHsm(fx: BindingFixture, name: string): Promise<void> {
  await waitFor(
    `DedicatedHsm ${name} deployed with its appliance reachable`,
    async () => {
      const r = await call(ep, 'GET', crPath(fx.namespace, 'dedicatedhsms', name));
      const status = r.body.status as { privateIpAddress?: string; conditions?: Condition[] } | undefined;
      return Boolean(status?.privateIpAddress) && status?.conditions?.some((c) => c.type === 'ApplianceReachable' && c.status === 'True');
    },
    45_000,
    200,
  );
}

export interface BindingOptions {
  clientName?: string;
  hostname?: string;
  ip?: string;
  targets: { hsm: string; partitions: string[] }[];
  secretRef?: string;
  generate?: { duration?: string; keyAlgorithm?: 'RSA2048' | 'ECDSAP256'; commonName?: string };
  renewBefore?: string;
  driftCheckInterval?: string;
  outputSecretName?: string;
  annotations?: Record<string, string>;
  /** Orphan (the API's default) leaves the client registered on deletion; Delete unregisters it. */
  deletionPolicy?: 'Orphan' | 'Delete';
}

export function ntlsBinding(name: string, o: BindingOptions): Manifest {
  return {
    apiVersion: `${GROUP}/${VERSION}`,
    kind: 'NtlsClientBinding',
    metadata: { name, ...(o.annotations ? { annotations: o.annotations } : {}) },
    spec: {
      clientName: o.clientName ?? name,
      identity: o.ip !== undefined ? { ip: o.ip } : { hostname: o.hostname ?? `${name}.example.internal` },
      certificate: {
        ...(o.secretRef ? { secretRef: { name: o.secretRef } } : { generate: { keyAlgorithm: 'ECDSAP256', ...(o.generate ?? {}) } }),
        ...(o.renewBefore ? { renewBefore: o.renewBefore } : {}),
      },
      targets: o.targets.map((t) => ({ dedicatedHsmRef: { name: t.hsm }, partitions: t.partitions })),
      ...(o.driftCheckInterval ? { driftCheckInterval: o.driftCheckInterval } : {}),
      ...(o.outputSecretName ? { outputSecretName: o.outputSecretName } : {}),
      ...(o.deletionPolicy ? { deletionPolicy: o.deletionPolicy } : {}),
    },
  };
}

export const clientCertificate = (cn: string): Promise<IssuedCertificate> => issueCertificate({ commonName: cn, dnsNames: [cn], keyAlgorithm: 'ECDSAP256' });

export function condition(b: NtlsClientBinding | undefined, type: string): Condition | undefined {
  return b?.status?.conditions?.find((c) => c.type === type);
}

/** Waits until the binding is Ready and InSync for its current generation. */
export async function waitReady(fx: BindingFixture, name: string, timeoutMs = 30_000): Promise<NtlsClientBinding> {
  return waitFor(
    `binding ${name} Ready`,
    async () => {
      const b = await fx.binding(name);
      return condition(b, 'Ready')?.status === 'True' && condition(b, 'InSync')?.status === 'True' && b.status?.observedGeneration === b.metadata.generation && b;
    },
    timeoutMs,
    200,
  );
}
