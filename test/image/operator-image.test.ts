/**
 * The operator's image, run. The global setup built it from the Dockerfile; here it runs with podman as the
 * kustomize config's Deployment declares its pod (uid 65532, read-only root, no capabilities, /tmp the only
 * writable path, 384 MiB), "in cluster" against the real kube-apiserver with the token of the config's
 * ServiceAccount and exactly the RBAC `kustomize build config/default` grants it (applied server-side, as
 * `kubectl apply --server-side -k` would), never as admin.
 *
 * Azure is the ARM simulator on loopback, which accepts only tokens an Entra-compatible authority on loopback
 * issued; the container gets them the production way: @azure/identity's default chain, here its environment
 * credential (tenant, client ID, client secret from an env file podman reads once), the authority through
 * --azure-authority-host with instance discovery off (a private authority), and the CA of both through
 * --azure-ca-file, mounted read-only. The appliance is the lunash simulator on loopback, named by the sample's
 * spec.appliance.host and ports: the image dials what the spec says, as it does in a cluster.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { inNamespaces, loadSamples, prepareSamples, sample, SAMPLE_NAMESPACES } from '../../src/sandbox/samples.js';
import { startWorld, WORLD_PASSWORDS, type World } from '../../src/sandbox/world.js';
import { freePort } from '../support/controlplane.js';
import { startEntraAuthority, type EntraAuthority } from '../support/entra.js';
import { adminEndpoint, call } from '../support/http.js';
import { createNamespace } from '../support/kube.js';
import { waitFor } from '../support/wait.js';
import { find, kustomizeBuild, repoRoot, type Manifest } from '../integration/packaging/render.js';
import { ENTRY_POINT_CHECK } from './support/entry-points.js';
import { LIMITS, must, RUNTIME, tool } from './support/exec.js';
import { inspect, logs, podman, podmanMust, podmanRunArgs, writePrivateDir, type Deployment } from './support/pod.js';

const ep = adminEndpoint();
const CA_DIR = '/etc/hsm-operator/azure-ca';
const LEASE = '/apis/coordination.k8s.io/v1/namespaces/hsm-operator-system/leases/hsm-operator-leader';

interface Lease {
  spec?: { holderIdentity?: string; leaseDurationSeconds?: number; leaseTransitions?: number };
}

/** Where each kind of the config lives on the API server. */
function pathOf(m: Manifest): string {
  const ns = m.metadata.namespace;
  const rbac = '/apis/rbac.authorization.k8s.io/v1';
  const paths: Record<string, string> = {
    Namespace: '/api/v1/namespaces',
    ServiceAccount: `/api/v1/namespaces/${ns}/serviceaccounts`,
    ClusterRole: `${rbac}/clusterroles`,
    ClusterRoleBinding: `${rbac}/clusterrolebindings`,
    Role: `${rbac}/namespaces/${ns}/roles`,
    RoleBinding: `${rbac}/namespaces/${ns}/rolebindings`,
  };
  const p = paths[m.kind];
  if (!p) throw new Error(`no path for ${m.kind}`);
  return `${p}/${m.metadata.name}`;
}

/** Server-side apply, as `kubectl apply --server-side` does it. */
async function apply(path: string, m: Manifest): Promise<void> {
  const r = await call(ep, 'PATCH', `${path}?fieldManager=image-tier&force=true`, JSON.stringify(m), 'application/apply-patch+yaml');
  if (r.status >= 300) throw new Error(`apply ${m.kind}/${m.metadata.name}: HTTP ${r.status} ${r.text}`);
}

async function lease(): Promise<Lease | undefined> {
  const r = await call(ep, 'GET', LEASE);
  return r.status === 200 ? (r.body as Lease) : undefined;
}

async function readyz(port: number): Promise<{ status: number; body: string }> {
  const r = await fetch(`http://127.0.0.1:${port}/readyz?verbose`, { signal: AbortSignal.timeout(5_000) });
  return { status: r.status, body: await r.text() };
}

describe('the image, run as the Deployment declares it, against the real API server', () => {
  const runId = randomBytes(3).toString('hex');
  const work = mkdtempSync(join(tmpdir(), 'hsm-image-run-'));
  const names = { a: `hsm-operator-a-${runId}`, b: `hsm-operator-b-${runId}` };
  const ports: Record<string, { health: number; metrics: number }> = {};
  const azure = { tenantId: randomUUID(), clientId: randomUUID(), clientSecret: randomBytes(32).toString('base64url') };
  let deployment: Deployment;
  let world: World;
  let entra: EntraAuthority;
  let saToken = '';
  let namespace = '';

  /** Starts one replica (podman run) and returns once podman created it; the env file is gone by then. */
  async function startReplica(name: string): Promise<void> {
    ports[name] = { health: await freePort(), metrics: await freePort() };
    const secrets = mkdtempSync(join(tmpdir(), 'hsm-image-env-'));
    const envFile = join(secrets, 'azure.env');
    writeFileSync(envFile, `AZURE_TENANT_ID=${azure.tenantId}\nAZURE_CLIENT_ID=${azure.clientId}\nAZURE_CLIENT_SECRET=${azure.clientSecret}\n`, { mode: 0o600 });
    const api = new URL(inject('controlPlane').server);
    try {
      await podmanMust(
        podmanRunArgs({
          deployment,
          image: inject('image').tag,
          name,
          namespace: 'hsm-operator-system',
          serviceAccountDir: join(work, 'serviceaccount'),
          apiServer: { host: api.hostname, port: Number(api.port) },
          override: { '--health-probe-bind-address': `127.0.0.1:${ports[name]!.health}`, '--metrics-bind-address': `127.0.0.1:${ports[name]!.metrics}` },
          extraArgs: [
            `--azure-endpoint=${world.arm.endpoint}`,
            `--azure-authority-host=${entra.authorityHost}`,
            '--azure-disable-instance-discovery',
            `--azure-ca-file=${CA_DIR}/ca.crt`,
          ],
          mounts: { [join(work, 'azure-ca')]: CA_DIR },
          envFile,
        }),
      );
    } finally {
      rmSync(secrets, { recursive: true, force: true });
    }
  }

  beforeAll(async () => {
    // The identity and permissions of `kubectl apply -k config/default`: Namespace, ServiceAccount, roles, bindings.
    // (The CRDs are installed by the global setup from crds/, the same files; nothing here runs the Deployment.)
    const config = await kustomizeBuild('config/default');
    for (const m of config.filter((x) => ['Namespace', 'ServiceAccount', 'ClusterRole', 'ClusterRoleBinding', 'Role', 'RoleBinding'].includes(x.kind))) await apply(pathOf(m), m);
    deployment = find(config, 'Deployment') as unknown as Deployment;
    const sa = deployment.spec.template.spec.serviceAccountName ?? 'default';
    const tr = await call(ep, 'POST', `/api/v1/namespaces/hsm-operator-system/serviceaccounts/${sa}/token`, {
      apiVersion: 'authentication.k8s.io/v1',
      kind: 'TokenRequest',
      spec: { expirationSeconds: 3600 },
    });
    saToken = String((tr.body as { status?: { token?: string } }).status?.token ?? '');
    expect(saToken, tr.text).not.toBe('');
    const uid = deployment.spec.template.spec.securityContext?.runAsUser ?? 65532;
    writePrivateDir(join(work, 'serviceaccount'), { token: saToken, 'ca.crt': inject('controlPlane').caPem, namespace: 'hsm-operator-system' }, uid, uid);

    world = await startWorld({ hsms: [{ name: 'hsm-eastus-1', stampId: 'stamp1' }] });
    entra = await startEntraAuthority(azure);
    world.arm.world.acceptToken = (t) => entra.issued(t);
    writePrivateDir(join(work, 'azure-ca'), { 'ca.crt': world.arm.caPem + entra.caPem }, uid, uid);
    namespace = await createNamespace('payments');
    await startReplica(names.a);
  }, 300_000);

  afterAll(async () => {
    for (const n of Object.values(names)) await podman(['rm', '--force', '--time', '0', n]);
    await world?.stop();
    await entra?.stop();
    rmSync(work, { recursive: true, force: true });
  });

  it('runs as uid 65532 with a read-only root, no capabilities and only /tmp writable', async () => {
    const c = await inspect(names.a);
    expect(c.user).toBe('65532:65532');
    expect(c.readOnly).toBe(true);
    expect(c.capDrop.length).toBeGreaterThan(10);
    const probe = await podmanMust([
      'exec',
      names.a,
      'node',
      '-e',
      `const fs = require('fs');
       const w = (p) => { try { fs.writeFileSync(p, 'x'); fs.rmSync(p); return 'ok'; } catch (e) { return e.code; } };
       console.log(JSON.stringify({ uid: process.getuid(), gid: process.getgid(), app: w('/app/x'), root: w('/x'), run: w('/run/x'), tmp: w('/tmp/x'), home: process.env.HOME }));`,
    ]);
    expect(JSON.parse(probe)).toEqual({ uid: 65532, gid: 65532, app: 'EROFS', root: 'EROFS', run: 'EROFS', tmp: 'ok', home: '/tmp' });
  });

  it('holds what Node loads and no more: every entry point Node resolves exists, every dependency imports', async () => {
    const args = ['run', '--rm', '-i', ...RUNTIME, ...LIMITS, '--network', 'none', '--read-only', '--user', '65532:65532', '--entrypoint', 'node', inject('image').tag, '-'];
    const out = await must(tool('podman'), args, { input: ENTRY_POINT_CHECK, timeoutMs: 120_000 });
    const r = JSON.parse(out.trim().split('\n').at(-1)!) as { packages: number; targets: number; missing: string[]; importFailures: string[] };
    expect(r.packages).toBeGreaterThan(100);
    expect(r.targets).toBeGreaterThan(100);
    expect(r.missing).toEqual([]);
    expect(r.importFailures).toEqual([]);
    // What the Dockerfile cut is gone (source maps, declarations, browser builds of scoped packages).
    const left = await podmanMust(['exec', names.a, 'sh', '-c', "find /app/node_modules -name '*.map' -o -name '*.d.ts' -o -path '*/@*/*/dist/browser' | wc -l"]);
    expect(left.trim()).toBe('0');
  });

  it('/readyz answers ok', async () => {
    const r = await waitFor('the container to be ready', async () => {
      const x = await readyz(ports[names.a]!.health).catch(() => undefined);
      return x?.status === 200 ? x : undefined;
    }, 60_000, 250).catch(async (e: Error) => {
      throw new Error(`${e.message}\n${await logs(names.a)}`);
    });
    expect(r.body).toMatch(/readyz check passed/);
  });

  it('takes the leader Lease in its namespace, as the pod name the downward API gives it', async () => {
    const l = await waitFor('the Lease', async () => ((await lease())?.spec?.holderIdentity === names.a ? lease() : undefined), 30_000, 250);
    expect(l?.spec?.holderIdentity).toBe(names.a);
  });

  it('makes the sample DedicatedHsm Ready: Azure with tokens of the authority, the appliance over SSH with the pinned key', async () => {
    const sim = world.appliances.get('hsm-eastus-1')!;
    const samples = loadSamples(join(repoRoot, 'config/samples'));
    // The platform team's samples, moved into this test's namespace (the container watches that one).
    const wanted = inNamespaces([sample(samples, 'Secret', 'hsm-eastus-1-appliance'), sample(samples, 'DedicatedHsm', 'hsm-eastus-1')], { [SAMPLE_NAMESPACES.platform]: namespace });
    const [secret, hsm] = await prepareSamples(
      wanted,
      { hostKeys: { hsm1: sim.hostKeyFingerprint }, passwords: WORLD_PASSWORDS, azure: world.ids },
      () => Promise.reject(new Error('no certificates in this test')),
    );
    // The appliance's address, as a platform team sets it when it knows it: the simulator on loopback.
    Object.assign((hsm!.spec as { appliance: object }).appliance, { host: sim.host, port: sim.port, ntlsPort: sim.ntlsPort });
    for (const [m, plural] of [
      [secret!, `/api/v1/namespaces/${namespace}/secrets`],
      [hsm!, `/apis/dedicatedhsm.io/v1alpha1/namespaces/${namespace}/dedicatedhsms`],
    ] as const) {
      const r = await call(ep, 'POST', plural, m);
      expect(r.status, r.text).toBe(201);
    }
    type Hsm = { status?: { conditions?: { type: string; status: string; reason: string; message?: string }[] } };
    let last: Hsm | undefined;
    await waitFor(
      'DedicatedHsm hsm-eastus-1 Ready',
      async () => {
        last = (await call(ep, 'GET', `/apis/dedicatedhsm.io/v1alpha1/namespaces/${namespace}/dedicatedhsms/hsm-eastus-1`)).body as Hsm;
        return last.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True');
      },
      90_000,
      500,
    ).catch(async (e: Error) => {
      throw new Error(`${e.message}\nconditions: ${JSON.stringify(last?.status?.conditions)}\n${await logs(names.a)}`);
    });
    // Azure: one deployment, every ARM request with a token the authority issued for the client credentials grant.
    expect(world.arm.count({ method: 'PUT', pathIncludes: '/dedicatedHSMs/hsm-eastus-1' })).toBe(1);
    expect(world.arm.count({ status: 401 })).toBe(0);
    expect(entra.tokenRequests.length).toBeGreaterThan(0);
    expect(entra.tokenRequests.every((r) => r.status === 200 && r.grantType === 'client_credentials' && r.clientId === azure.clientId && r.scope === `${world.arm.endpoint}/.default`)).toBe(true);
    // The appliance: logged in over SSH with the password of the sample's Secret, never refused.
    expect(sim.counters.ssh.sshLogins.success).toBeGreaterThan(0);
    expect(sim.counters.ssh.sshLogins.failure).toBe(0);
  });

  it('on SIGTERM releases the Lease, and the standby replica takes it at once', async () => {
    await startReplica(names.b);
    await waitFor('the standby to be ready', async () => (await readyz(ports[names.b]!.health).catch(() => undefined))?.status === 200, 60_000, 250);
    const before = await lease();
    expect(before?.spec?.holderIdentity).toBe(names.a);
    const leaseSeconds = before?.spec?.leaseDurationSeconds ?? 15;

    const stopped = Date.now();
    // podman stop: SIGTERM, then SIGKILL after the pod's grace period.
    await podmanMust(['stop', '--time', String(deployment.spec.template.spec.terminationGracePeriodSeconds ?? 30), names.a], 60_000);
    const stopMs = Date.now() - stopped;
    const a = await inspect(names.a);
    const aLogs = await logs(names.a);
    expect(a.exitCode, aLogs).toBe(0);
    expect(aLogs).toMatch(/released the Lease/);

    const after = await waitFor('the standby to take the Lease', async () => {
      const l = await lease();
      return l?.spec?.holderIdentity === names.b ? l : undefined;
    }, 2 * leaseSeconds * 1000, 100);
    const handoverMs = Date.now() - stopped;
    // Without the release the standby would wait out the whole lease duration after the last renewal.
    expect(handoverMs).toBeLessThan(leaseSeconds * 1000);
    expect(after.spec?.leaseTransitions).toBe((before?.spec?.leaseTransitions ?? 0) + 1);
    process.stderr.write(`[image] SIGTERM: container exited 0 after ${stopMs} ms; standby took the Lease ${handoverMs} ms after the signal (lease duration ${leaseSeconds} s)\n`);
  });

  it('never prints a secret: neither the client secret nor the ServiceAccount token is in any replica log', async () => {
    await sleep(500);
    for (const n of Object.values(names)) {
      const text = await logs(n);
      expect(text.length).toBeGreaterThan(0);
      expect(text).not.toContain(azure.clientSecret);
      expect(text).not.toContain(saToken);
      expect(text).not.toContain(WORLD_PASSWORDS.appliance);
    }
  });
});
