/**
 * GitOps health of objects the real controllers wrote (not hand-made fixtures): the quota story of the sandbox runs
 * against the shared API server; kstatus (cli-utils, built from its Go module) and the Argo CD Lua checks (under gopher-lua,
 * the engine Argo CD embeds) judge the live objects while one HSM waits for a human (QuotaExceeded), and again once all is Ready.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import type { ConditionKind } from '../../../src/api/index.js';
import { healthScript } from '../../../src/observability/argocd-health.js';
import { startSandbox, type Sandbox } from '../../../src/sandbox/run.js';
import { createNamespace } from '../../support/kube.js';
import { ensureTools, run } from '../../support/tools.js';
import { waitFor } from '../../support/wait.js';
import { runHealthScript } from '../../unit/observability/lua.js';

type Live = { kind: string; metadata: { name?: string; annotations?: Record<string, string> }; status?: { conditions?: { type: string; status: string; reason: string }[] } };

describe('kstatus and Argo CD judge objects written by the controllers', () => {
  const stateDir = mkdtempSync(join(tmpdir(), 'hsm-gitops-live-'));
  let sb: Sandbox;
  let kstatus: string;
  let lua: string;

  beforeAll(async () => {
    ({ kstatus, luahealth: lua } = await ensureTools());
    // The sandbox's two namespaces: the platform team's (HSMs, HA group) and app team A's (bindings).
    const namespaces = { platform: await createNamespace('gitops-live-p'), app: await createNamespace('gitops-live-a') };
    sb = await startSandbox({
      scenario: 'quota',
      kubeconfig: inject('controlPlane').kubeconfigPath,
      namespaces,
      stateDir,
      out: { write: () => undefined },
      tty: false,
      world: { gatewayTimeline: [['Updating', 500], ['Succeeded']] },
    });
  }, 120_000);
  afterAll(async () => {
    await sb?.stop();
    rmSync(stateDir, { recursive: true, force: true });
  });

  const live = (): Live[] => sb.snapshot().all as unknown as Live[];
  const kstatusOf = (objs: Live[]) => new Map((JSON.parse(run(kstatus, [], JSON.stringify(objs))) as { name: string; status: string }[]).map((r) => [r.name, r.status]));
  const argoOf = (objs: Live[]) => new Map(objs.map((o) => [o.metadata.name ?? '', runHealthScript(lua, healthScript(o.kind as ConditionKind), [o])[0]!.status]));
  const ready = (o: Live) => o.status?.conditions?.find((c) => c.type === 'Ready');

  it('a human-needed failure is Failed / Degraded, converging objects are InProgress / Progressing', async () => {
    await waitFor(
      'hsm-eastus-1 QuotaExceeded, the bindings reporting',
      () => live().some((o) => o.metadata.name === 'hsm-eastus-1' && ready(o)?.reason === 'QuotaExceeded') && live().filter((o) => o.kind === 'NtlsClientBinding' && ready(o)).length === 2,
      60_000,
    );
    const objs = live();
    const k = kstatusOf(objs);
    const a = argoOf(objs);
    expect(k.get('hsm-eastus-1')).toBe('Failed');
    expect(a.get('hsm-eastus-1')).toBe('Degraded');
    // Bindings wait for the HSMs: not ready, but nothing a human must do about them.
    for (const name of ['app-a', 'app-b']) {
      expect(k.get(name)).toBe('InProgress');
      expect(a.get(name)).toBe('Progressing');
    }
  });

  it('once the human fixed it and everything is Ready: Current / Healthy for every object', async () => {
    const run = new AbortController();
    const timer = setTimeout(() => run.abort(new Error('timed out')), 90_000);
    await sb.play(run.signal).finally(() => clearTimeout(timer));
    const objs = live();
    expect(objs.map((o) => `${o.kind}/${o.metadata.name}=${ready(o)?.status}`).every((s) => s.endsWith('=True'))).toBe(true);
    expect([...kstatusOf(objs).values()]).toEqual(objs.map(() => 'Current'));
    expect([...argoOf(objs).values()]).toEqual(objs.map(() => 'Healthy'));
  }, 120_000);
});
