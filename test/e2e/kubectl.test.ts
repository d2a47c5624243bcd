/**
 * What a user types: the real kubectl of the pinned release (built with the control plane from test/controlplane) against
 * the live CRDs and the objects the controllers converge in the sandbox's default story. `kubectl version` works
 * because the built binaries carry the release's version stamp; `kubectl wait --for=condition=Ready` ends on the
 * Ready condition the operator writes; `kubectl get hsm` lists the three kinds through their category with the
 * printer columns; `kubectl explain` reads the field descriptions the API serves.
 */
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { ensureBinaries, pinnedVersions } from '../../src/sandbox/controlplane/controlplane.js';
import { startSandbox, type Sandbox } from '../../src/sandbox/run.js';
import { createNamespace } from '../support/kube.js';

describe('kubectl against the live CRDs and the converged sandbox', () => {
  const stateDir = mkdtempSync(join(tmpdir(), 'hsm-kubectl-'));
  let sb: Sandbox;
  let kubectl = '';
  let namespaces = { platform: '', app: '' };
  let played: Promise<string> | undefined;

  const run = (args: string[], timeoutMs = 30_000) => {
    const r = spawnSync(kubectl, ['--kubeconfig', inject('controlPlane').kubeconfigPath, ...args], { encoding: 'utf8', timeout: timeoutMs });
    return { code: r.status, out: r.stdout, err: r.stderr };
  };

  /** kubectl without blocking this process: the operator runs in it and must go on while kubectl waits. */
  const runAsync = (args: string[]) =>
    new Promise<{ code: number | null; out: string; err: string }>((resolve) => {
      const child = spawn(kubectl, ['--kubeconfig', inject('controlPlane').kubeconfigPath, ...args]);
      let out = '';
      let err = '';
      child.stdout.on('data', (d: Buffer) => (out += d.toString()));
      child.stderr.on('data', (d: Buffer) => (err += d.toString()));
      child.on('close', (code) => resolve({ code, out, err }));
    });

  beforeAll(async () => {
    ({ kubectl } = await ensureBinaries());
    namespaces = { platform: await createNamespace('kubectl-p'), app: await createNamespace('kubectl-a') };
    sb = await startSandbox({
      kubeconfig: inject('controlPlane').kubeconfigPath,
      namespaces,
      stateDir,
      out: { write: () => undefined },
      tty: false,
      world: { gatewayTimeline: [['Updating', 500], ['Succeeded']] },
    });
    // The default story runs on while kubectl waits for what it promises.
    played = sb.play();
  }, 900_000);
  afterAll(async () => {
    await sb?.stop();
    rmSync(stateDir, { recursive: true, force: true });
  });

  it('kubectl version reports the pinned release for both client and server', () => {
    const r = run(['version', '-o', 'json']);
    expect(r.code, r.err).toBe(0);
    const v = JSON.parse(r.out) as { clientVersion: { gitVersion: string }; serverVersion: { gitVersion: string; major: string; minor: string } };
    expect(v.serverVersion.gitVersion).toBe(pinnedVersions().kubernetes);
    expect(v.clientVersion.gitVersion).toBe(pinnedVersions().kubernetes);
    expect(`v${v.serverVersion.major}.${v.serverVersion.minor}.`).toBe(pinnedVersions().kubernetes.replace(/\d+$/, ''));
  });

  it('kubectl wait --for=condition=Ready ends once the operator reports every object Ready', async () => {
    // The default story: the platform team's two HSMs and HA group, app team A's two bindings.
    for (const [ns, kinds, n] of [
      [namespaces.platform, 'dedicatedhsms,hsmhagroups', 3],
      [namespaces.app, 'ntlsclientbindings', 2],
    ] as const) {
      const r = await runAsync(['wait', '--for=condition=Ready', kinds, '--all', '-n', ns, '--timeout=120s']);
      expect(r.code, r.err).toBe(0);
      const met = r.out.split('\n').filter((l) => l.endsWith('condition met'));
      expect(met, ns).toHaveLength(n);
    }
  }, 160_000);

  it('the story kubectl waited for ends as promised', async () => {
    expect(await played).toBeTruthy();
  });

  it('kubectl get hsm lists the three kinds through their category, with their printer columns', () => {
    const r = run(['get', 'hsm', '-n', namespaces.platform]);
    expect(r.code, r.err).toBe(0);
    expect(r.out).toMatch(/^dedicatedhsm\.dedicatedhsm\.io\/hsm-eastus-1\s/m);
    expect(r.out).toMatch(/^hsmhagroup\.dedicatedhsm\.io\//m);
    const app = run(['get', 'hsm', '-n', namespaces.app]);
    expect(app.code, app.err).toBe(0);
    expect(app.out).toMatch(/^ntlsclientbinding\.dedicatedhsm\.io\/app-a\s/m);
    const dhsm = run(['get', 'dhsm', '-n', namespaces.platform]);
    expect(dhsm.out.split('\n')[0]).toMatch(/NAME\s+READY\s+REASON/);
    expect(dhsm.out).toMatch(/hsm-eastus-1\s+True\s+Ready/);
  });

  it('kubectl explain reads the descriptions the CRDs serve', () => {
    const r = run(['explain', 'dedicatedhsm.spec.appliance.hostKey']);
    expect(r.code, r.err).toBe(0);
    expect(r.out).toContain('ssh-keygen -lf');
    const d = run(['explain', 'dedicatedhsm.spec.deletionPolicy']);
    expect(d.out).toMatch(/Orphan/);
  });
});
