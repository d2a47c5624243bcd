/**
 * The scope of a Retry-After (src/azure/throttle.ts), as docs/design.md states it: after a 429, requests of the same
 * kind (read: GET/HEAD; write: anything else) to the same ARM path (query and letter case ignored) are held until the
 * time has passed; other paths of the same subscription and the other kind on the same path are not. One gate per
 * AzurePlane, that is per credential.
 */
import { createHttpHeaders, createPipelineRequest, type PipelineResponse } from '@azure/core-rest-pipeline';
import { describe, expect, it } from 'vitest';
import { ThrottleGate } from '../../../src/azure/throttle.js';

const ARM = 'https://management.azure.com';
const HSM = `${ARM}/subscriptions/sub-1/resourceGroups/rg/providers/Microsoft.HardwareSecurityModules/dedicatedHSMs/hsm1`;

describe('ThrottleGate', () => {
  it('holds the same kind of request to the same resource, nothing else', async () => {
    let now = 1_000_000;
    const gate = new ThrottleGate(() => now);
    const policy = gate.policy();
    const throttled = async (request: ReturnType<typeof createPipelineRequest>): Promise<PipelineResponse> => ({ request, status: 429, headers: createHttpHeaders({ 'retry-after': '3' }) });
    await policy.sendRequest(createPipelineRequest({ url: `${HSM}?api-version=2021-11-30`, method: 'GET' }), throttled);

    expect(gate.waitMs('GET', `${HSM}?api-version=2018-10-31-preview`)).toBe(3_000);
    expect(gate.waitMs('HEAD', `${HSM.toUpperCase()}/`)).toBe(3_000);
    // The other kind on the same resource, and other resources of the same subscription, go out.
    expect(gate.waitMs('PUT', HSM)).toBe(0);
    expect(gate.waitMs('GET', `${HSM.replace(/hsm1$/, 'hsm2')}`)).toBe(0);
    expect(gate.waitMs('GET', `${ARM}/subscriptions/sub-1/providers/Microsoft.HardwareSecurityModules/dedicatedHSMs`)).toBe(0);

    // A held request fails fast with a 429 carrying the time left; nothing is sent.
    let sent = 0;
    const send = async (request: ReturnType<typeof createPipelineRequest>): Promise<PipelineResponse> => {
      sent++;
      return { request, status: 200, headers: createHttpHeaders() };
    };
    now += 1_000;
    await expect(policy.sendRequest(createPipelineRequest({ url: HSM, method: 'GET' }), send)).rejects.toMatchObject({ statusCode: 429 });
    expect(sent).toBe(0);
    now += 2_000;
    expect(gate.waitMs('GET', HSM)).toBe(0);
    await policy.sendRequest(createPipelineRequest({ url: HSM, method: 'GET' }), send);
    expect(sent).toBe(1);
  });
});
