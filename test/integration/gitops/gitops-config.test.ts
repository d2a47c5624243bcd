/**
 * The kustomize overlays under config/gitops, built with the real kustomize (the one Argo CD and Flux embed): the
 * Argo CD overlay puts every sample in its sync wave, and the API server accepts the result as it would from Argo CD
 * (a server-side dry-run apply); the two Flux overlays render the DedicatedHsms and everything that depends on them.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { typeOfManifest } from '../../../src/sandbox/apply.js';
import { adminEndpoint, call } from '../../support/http.js';
import { createNamespace } from '../../support/kube.js';
import { SAMPLE_NAMESPACES } from '../../../src/sandbox/samples.js';
import { kustomizeBuild, type Manifest } from '../packaging/render.js';

const WAVE = 'argocd.argoproj.io/sync-wave';
const names = (ms: Manifest[]) => ms.map((m) => `${m.kind}/${m.metadata.name}`).sort();

describe('config/gitops overlays', () => {
  let samples: Manifest[];
  beforeAll(async () => {
    samples = await kustomizeBuild('config/samples');
  }, 600_000);

  it('Argo CD: every sample in its sync wave (Secrets -1, DedicatedHsm and HsmGrant 0, bindings 1, HA groups 2), nothing else changed', async () => {
    const built = await kustomizeBuild('config/gitops/argocd/hsm');
    expect(names(built)).toEqual(names(samples));
    // The samples name their namespaces: the platform team's and app team A's.
    expect([...new Set(built.map((m) => m.metadata.namespace))].sort()).toEqual([SAMPLE_NAMESPACES.app, SAMPLE_NAMESPACES.platform].sort());
    const expected: Record<string, string> = { Secret: '-1', DedicatedHsm: '0', HsmGrant: '0', NtlsClientBinding: '1', HsmHaGroup: '2' };
    for (const m of built) {
      expect(m.metadata.annotations?.[WAVE], `${m.kind}/${m.metadata.name}`).toBe(expected[m.kind]);
      // The overlay adds the wave and nothing else; the samples' own annotations (a Secret's credential-for) stay.
      const { [WAVE]: _wave, ...own } = m.metadata.annotations ?? {};
      const { annotations: _all, ...meta } = m.metadata;
      const original = samples.find((s) => s.kind === m.kind && s.metadata.name === m.metadata.name && s.metadata.namespace === m.metadata.namespace);
      expect({ ...m, metadata: { ...meta, ...(Object.keys(own).length ? { annotations: own } : {}) } }).toEqual(original);
    }

    // The API server takes the annotated objects as Argo CD's server-side apply sends them (nothing written: dryRun).
    const ns = await createNamespace('gitops-config');
    for (const m of built) {
      const t = typeOfManifest(m);
      const base = t.group ? `/apis/${t.group}/${t.version}` : `/api/${t.version}`;
      const r = await call(adminEndpoint(), 'PATCH', `${base}/namespaces/${ns}/${t.plural}/${m.metadata.name}?fieldManager=argocd-controller&force=true&dryRun=All`, { ...m, metadata: { ...m.metadata, namespace: ns } }, 'application/apply-patch+yaml');
      expect(r.status, `${m.kind}/${m.metadata.name}: ${r.text}`).toBeLessThan(300);
    }
  });

  it('Flux: the first Kustomization renders the HSMs, their Secrets and the grant, the one that depends on it all the rest', async () => {
    const hsms = await kustomizeBuild('config/gitops/flux/dedicatedhsms');
    const clients = await kustomizeBuild('config/gitops/flux/clients');
    expect(names(hsms)).toEqual(['DedicatedHsm/hsm-eastus-1', 'DedicatedHsm/hsm-eastus-2', 'HsmGrant/app-team-a', 'Secret/hsm-eastus-1-appliance', 'Secret/hsm-eastus-2-appliance']);
    for (const m of hsms) expect(m.metadata.namespace, `${m.kind}/${m.metadata.name}`).toBe(SAMPLE_NAMESPACES.platform);
    expect([...names(hsms), ...names(clients)].sort()).toEqual(names(samples));
    // Unchanged, as written in config/samples.
    for (const m of [...hsms, ...clients]) expect(m).toEqual(samples.find((s) => s.kind === m.kind && s.metadata.name === m.metadata.name));
  });
});
