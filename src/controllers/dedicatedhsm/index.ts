/**
 * The DedicatedHsm controller: deploys an Azure Dedicated HSM once its network is ready, observes its appliance,
 * and deletes it only the way the guide allows. See docs/controllers/dedicatedhsm.md.
 */
import { specOrMetadataChanged, watchOf } from '../../runtime/index.js';
import type { OperatorContext } from '../shared/index.js';
import { CONTROLLER, DedicatedHsmReconciler } from './reconciler.js';

/** Registers the DedicatedHsm controller with the manager; returns its reconciler (tests read its counters). */
export function registerDedicatedHsmController(ctx: OperatorContext): DedicatedHsmReconciler {
  const reconciler = new DedicatedHsmReconciler(ctx);
  ctx.manager.addController({
    name: CONTROLLER,
    for: ctx.caches.dedicatedHsms,
    // Our own status writes must not re-trigger a pass: only spec and metadata changes (and deletion) do.
    onUpdate: specOrMetadataChanged,
    watches: [watchOf(ctx.secrets.informer, ctx.secrets.mapTo(CONTROLLER))],
    reconciler: reconciler.reconcile,
  });
  return reconciler;
}
