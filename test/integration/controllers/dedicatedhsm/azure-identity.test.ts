/**
 * No Azure credential: the operator's identity is refused before anything reaches ARM (what DefaultAzureCredential
 * does with nothing configured), so the first read, the HSM's, fails and no check before it in the roll-up ever
 * runs. Ready must say what is wrong (AuthorizationFailed, a human must act), Stalled must be True, a Warning Event
 * must say it, and kstatus, the Argo CD health check and explain-failure must agree. Once an identity works the HSM
 * converges.
 */
import { readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { CredentialUnavailableError } from '@azure/identity';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { CredentialSource } from '../../../../src/azure/index.js';
import { explain } from '../../../../src/cli/explain-failure.js';
import { GUIDE } from '../../../../src/cli/guide.js';
import { healthScriptFile } from '../../../../src/observability/argocd-health.js';
import type { EventObject } from '../../../../src/runtime/index.js';
import { ensureTools, run } from '../../../support/tools.js';
import { waitFor } from '../../../support/wait.js';
import { runHealthScript } from '../../../unit/observability/lua.js';
import { condition, startScenario, type Scenario } from './fixture.js';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '../../../..');

describe('DedicatedHsm without an Azure credential', () => {
  let sc: Scenario;
  let refuse = true;
  const identity: CredentialSource = {
    kind: 'static',
    key: 'refused-until-fixed',
    credential: {
      getToken: () =>
        refuse
          ? Promise.reject(new CredentialUnavailableError('DefaultAzureCredential: no credential in the chain provided a token (no workload identity, no managed identity).'))
          : Promise.resolve({ token: 'sandbox-token', expiresOnTimestamp: Date.now() + 3_600_000 }),
    },
  };

  beforeAll(async () => {
    sc = await startScenario({ prefix: 'dhsm-noidentity', operator: { azureCredential: identity } });
    await sc.deploy('hsm1');
  }, 60_000);
  afterAll(async () => sc?.stop());

  it('Ready says AuthorizationFailed (not Pending), Stalled is True, and a Warning Event says it', async () => {
    const hsm = await sc.waitFor('hsm1', 'Ready', { reason: 'AuthorizationFailed' });
    expect(condition(hsm, 'Provisioned')).toMatchObject({ status: 'Unknown', reason: 'AuthorizationFailed' });
    // The checks before Provisioned in the roll-up order never ran.
    expect(condition(hsm, 'SubnetDelegated')).toBeUndefined();
    expect(condition(hsm, 'Ready')).toMatchObject({ status: 'Unknown', message: expect.stringContaining('no credential in the chain') });
    expect(condition(hsm, 'Stalled')).toMatchObject({ status: 'True', reason: 'AuthorizationFailed' });
    expect(condition(hsm, 'Reconciling')?.status).toBe('False');
    const warnings = await waitFor('a Warning Event AuthorizationFailed', async () => {
      const e = (await sc.events('hsm1', 'AuthorizationFailed')).filter((x) => x.type === 'Warning');
      return e.length ? e : undefined;
    });
    expect(warnings[0]?.note).toContain('no credential in the chain');
    expect(sc.world.arm.requests).toEqual([]);
  });

  it('kstatus says Failed, Argo CD Degraded, explain-failure gives the fix', async () => {
    const live = await sc.get('hsm1');
    const tools = await ensureTools();
    const [ks] = JSON.parse(run(tools.kstatus, [], JSON.stringify([live]))) as { status: string; message: string }[];
    expect(ks).toMatchObject({ status: 'Failed', message: expect.stringContaining('no credential in the chain') });
    const script = readFileSync(join(root, 'config/argocd', healthScriptFile('DedicatedHsm')), 'utf8');
    expect(runHealthScript(tools.luahealth, script, [live])[0]).toMatchObject({ status: 'Degraded', message: expect.stringMatching(/^AuthorizationFailed: /) });
    const events = (await sc.events('hsm1')) as unknown as EventObject[];
    const text = explain(live, events);
    expect(text).toContain('Ready: Unknown, reason AuthorizationFailed - needs a human');
    expect(text).toContain(`What to do: ${GUIDE.AuthorizationFailed?.action}`);
    expect(text).toMatch(/Warning\s+AuthorizationFailed/);
  });

  it('converges once the identity works', async () => {
    refuse = false;
    await sc.patch('hsm1', { metadata: { annotations: { 'dedicatedhsm.io/resync-now': '1' } } });
    const hsm = await sc.waitFor('hsm1', 'Ready', { status: 'True' }, 60_000);
    expect(condition(hsm, 'Stalled')?.status).toBe('False');
    expect(sc.world.arm.count({ method: 'PUT', pathIncludes: 'dedicatedHSMs' })).toBe(1);
  });
});
