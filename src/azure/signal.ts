/**
 * A view of an AzurePlane that passes one AbortSignal to every call naming none: what `AzurePlane.withSignal`
 * returns for any implementation (the real one and the in-memory fake alike).
 */
import { AzureAbortedError } from './errors.js';
import type { AzureCallOptions, AzurePlane } from './types.js';

/** Throws AzureAbortedError when `signal` has fired: `operation` is not sent. */
export function throwIfAzureAborted(signal: AbortSignal | undefined, operation: string): void {
  if (signal?.aborted) throw new AzureAbortedError(operation, false);
}

export function bindAzureSignal(plane: AzurePlane, signal: AbortSignal | undefined): AzurePlane {
  if (!signal) return plane;
  const o = (opts: AzureCallOptions | undefined): AzureCallOptions => ({ ...opts, signal: opts?.signal ?? signal });
  const view: AzurePlane = {
    getGateway: (id, opts) => plane.getGateway(id, o(opts)),
    getSubnet: (id, opts) => plane.getSubnet(id, o(opts)),
    getNic: (id, opts) => plane.getNic(id, o(opts)),
    getFeature: (sub, ns, name, opts) => plane.getFeature(sub, ns, name, o(opts)),
    getHsm: (sub, rg, name, opts) => plane.getHsm(sub, rg, name, o(opts)),
    listHsms: (sub, opts) => plane.listHsms(sub, o(opts)),
    quotaView: (sub, location, limits, opts) => plane.quotaView(sub, location, limits, o(opts)),
    beginCreateHsm: (spec, opts) => plane.beginCreateHsm(spec, o(opts)),
    pollCreate: (token, opts) => plane.pollCreate(token, o(opts)),
    beginDeleteHsm: (sub, rg, name, opts) => plane.beginDeleteHsm(sub, rg, name, o(opts)),
    pollDelete: (token, opts) => plane.pollDelete(token, o(opts)),
    updateTags: (sub, rg, name, tags, opts) => plane.updateTags(sub, rg, name, tags, o(opts)),
    withSignal: (other) => bindAzureSignal(plane, other),
  };
  return view;
}
