/**
 * The watches of every kind that may refer to a DedicatedHsm across namespaces (bindings, HA groups): whether a
 * reference is granted changes with the HsmGrants of the HSM's namespace and with the labels of the referring
 * namespace (a grant's namespaceSelector), so both re-enqueue the objects they may admit or refuse.
 */
import type { HsmGrant } from '../../api/index.js';
import { deepEqual, objectKey, specOrMetadataChanged, watchOf, type Informer, type KubeObject, type WatchSpec } from '../../runtime/index.js';
import type { OperatorContext } from './context.js';

/** `namespace/name` of the HSMs a grant lends (the index values of references to them). */
export function grantedHsmKeys(g: HsmGrant): string[] {
  const ns = g.metadata.namespace ?? '';
  return (g.spec?.dedicatedHsms ?? []).map((n) => `${ns}/${n}`);
}

/**
 * `cache` holds the referring kind, `byHsm` the name of its index by `namespace/name` of the HSMs each object names.
 * A grant's update maps old and new (a narrowed grant refuses what the old one admitted).
 */
export function grantWatches<T extends KubeObject>(ctx: Pick<OperatorContext, 'caches'>, cache: Informer<T>, byHsm: string): WatchSpec[] {
  return [
    watchOf(ctx.caches.grants, (g) => grantedHsmKeys(g).flatMap((k) => cache.byIndex(byHsm, k)).map(objectKey), specOrMetadataChanged),
    watchOf(ctx.caches.namespaces, (n) => cache.list(n.metadata?.name ?? '').map(objectKey), (a, b) => !deepEqual(a.metadata?.labels ?? {}, b.metadata?.labels ?? {})),
  ];
}
