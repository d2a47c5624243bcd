/** Annotation and finalizer names the operator reads, and pure helpers to interpret them. */

export const FINALIZER = 'dedicatedhsm.io/finalizer';

export const Annotations = {
  /** `manage` (default) | `observe` (report only, never write to Azure or the device) | `paused`. */
  reconcile: 'dedicatedhsm.io/reconcile',
  /** Trigger: re-read everything now (any value; honoured once, then cleared). */
  resyncNow: 'dedicatedhsm.io/resync-now',
  /** Trigger (NtlsClientBinding): push the client configuration to every target again. */
  repushNow: 'dedicatedhsm.io/repush-now',
  /** Trigger (HsmHaGroup): run `hagroup recover` now, also when the recovery circuit is open. */
  recoverNow: 'dedicatedhsm.io/recover-now',
  /** Second key for zeroization on delete (DedicatedHsm, deletionPolicy Delete): must equal the ARM resource name. */
  confirmZeroize: 'dedicatedhsm.io/confirm-zeroize',
  /** Lets an NtlsClientBinding or HsmHaGroup be deleted while its HSM is unreachable (device clean-up is skipped). */
  abandon: 'dedicatedhsm.io/abandon',
} as const;

export type AnnotationName = (typeof Annotations)[keyof typeof Annotations];

export const RECONCILE_MODES = ['manage', 'observe', 'paused'] as const;
export type ReconcileMode = (typeof RECONCILE_MODES)[number];
export const DEFAULT_RECONCILE_MODE: ReconcileMode = 'manage';

/** Annotations that ask for one action; the operator clears them once honoured. */
export const TRIGGER_ANNOTATIONS = [Annotations.resyncNow, Annotations.repushNow, Annotations.recoverNow] as const;

type AnnotationMap = Readonly<Record<string, string>> | undefined;

/**
 * The reconcile mode an object asks for: the one reading of `dedicatedhsm.io/reconcile` every controller uses. An
 * absent annotation means `manage`. Any other value than exactly `manage`, `observe` or `paused` (case, spaces and
 * the empty string included: the Argo CD health check compares the value literally too) is an error, never a
 * guess: the controller then reads and writes nothing, in Azure or on a device, deletion included, and reports
 * Ready=False/InvalidSpec with this message naming the valid values, so a typo can never cause writes.
 */
export function reconcileMode(annotations: AnnotationMap): { mode: ReconcileMode } | { error: string } {
  const value = annotations?.[Annotations.reconcile];
  if (value === undefined) return { mode: DEFAULT_RECONCILE_MODE };
  if ((RECONCILE_MODES as readonly string[]).includes(value)) return { mode: value as ReconcileMode };
  return { error: `${Annotations.reconcile} must be one of ${RECONCILE_MODES.join(', ')}; got ${JSON.stringify(value)}` };
}

/** Whether a trigger annotation is present (its value is ignored; any value fires it once). */
export function hasTrigger(annotations: AnnotationMap, trigger: (typeof TRIGGER_ANNOTATIONS)[number]): boolean {
  return annotations?.[trigger] !== undefined;
}

/** The second key for zeroization: present and equal, character for character, to the ARM resource name. */
export function zeroizeConfirmed(annotations: AnnotationMap, armName: string): boolean {
  const value = annotations?.[Annotations.confirmZeroize];
  return value !== undefined && armName.length > 0 && value === armName;
}

/** Whether the user allowed deletion without device clean-up. Only the literal "true" counts. */
export function abandonRequested(annotations: AnnotationMap): boolean {
  return annotations?.[Annotations.abandon] === 'true';
}
