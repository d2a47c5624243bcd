/**
 * The NtlsClientBinding controller: registers a Luna client on its target HSMs, hands out their server
 * certificates and a Chrystoki.conf, repairs drift and renews generated certificates (see reconciler.ts and
 * docs/controllers/ntlsclientbinding.md).
 */
import { objectKey, specOrMetadataChanged, watchOf } from '../../runtime/index.js';
import type { OperatorContext } from '../shared/index.js';
import { CONTROLLER_NAME, NtlsClientBindingReconciler } from './reconciler.js';
import { grantWatches } from '../shared/grant-watches.js';
import { BY_DEDICATED_HSM, dedicatedHsmChangeMatters, referencedHsmKeys } from './watches.js';

export { CONTROLLER_NAME, NtlsClientBindingReconciler, NtlsClientBindingType } from './reconciler.js';

/**
 * Workers: bindings on a slow or unreachable HSM must not hold up the others (one key still never runs twice at
 * once; the SSH pool shares one connection per appliance between them).
 */
export const NTLS_BINDING_CONCURRENCY = 16;

/** Registers the NtlsClientBinding controller with the manager; `specTimeScale` as in OperatorOptions.compressedTime. */
export function registerNtlsClientBindingController(ctx: OperatorContext, specTimeScale = 1): void {
  const bindings = ctx.caches.bindings;
  bindings.addIndex(BY_DEDICATED_HSM, referencedHsmKeys);
  const reconciler = new NtlsClientBindingReconciler(ctx, specTimeScale);
  ctx.manager.addController({
    name: CONTROLLER_NAME,
    for: bindings,
    // Own status writes do not re-enqueue; spec, annotations (triggers, mode), finalizers and deletion do.
    onUpdate: specOrMetadataChanged,
    watches: [
      watchOf(ctx.caches.dedicatedHsms, (hsm) => bindings.byIndex(BY_DEDICATED_HSM, objectKey(hsm)).map(objectKey), dedicatedHsmChangeMatters),
      // The certificate Secret, the generated and output Secrets, the appliance credentials: whatever a pass read.
      watchOf(ctx.secrets.informer, ctx.secrets.mapTo(CONTROLLER_NAME)),
      // Grants admit and refuse bindings of other namespaces; a namespace's labels may match a grant's selector.
      ...grantWatches(ctx, bindings, BY_DEDICATED_HSM),
    ],
    concurrency: NTLS_BINDING_CONCURRENCY,
    reconciler: (key, rc) => reconciler.reconcile(key, rc),
  });
}
