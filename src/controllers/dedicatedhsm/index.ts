/**
 * The DedicatedHsm controller: deploys an Azure Dedicated HSM once its network is ready, observes its appliance,
 * and deletes it only the way the guide allows. See docs/controllers/dedicatedhsm.md.
 */
import { objectKey, specOrMetadataChanged, watchOf } from '../../runtime/index.js';
import type { OperatorContext } from '../shared/index.js';
import { armIdIndex, armIdKey, BY_ARM_ID } from './duplicates.js';
import { CONTROLLER, DedicatedHsmReconciler } from './reconciler.js';

/** Registers the DedicatedHsm controller with the manager; returns its reconciler (tests read its counters). */
export function registerDedicatedHsmController(ctx: OperatorContext): DedicatedHsmReconciler {
  const hsms = ctx.caches.dedicatedHsms;
  hsms.addIndex(BY_ARM_ID, armIdIndex);
  const reconciler = new DedicatedHsmReconciler(ctx);
  ctx.manager.addController({
    name: CONTROLLER,
    for: ctx.caches.dedicatedHsms,
    // Our own status writes must not re-trigger a pass: only spec and metadata changes (and deletion) do.
    onUpdate: specOrMetadataChanged,
    watches: [
      watchOf(ctx.secrets.informer, ctx.secrets.mapTo(CONTROLLER)),
      // One DedicatedHsm per Azure HSM (duplicates.ts): the others naming it look again when one comes or goes.
      watchOf(hsms, (hsm) => hsms.byIndex(BY_ARM_ID, armIdKey(hsm)).filter((o) => o.metadata.uid !== hsm.metadata.uid).map(objectKey), () => false),
    ],
    reconciler: reconciler.reconcile,
  });
  return reconciler;
}
