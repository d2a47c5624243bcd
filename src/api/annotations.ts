/** Annotation and finalizer names the operator reads, and pure helpers to interpret them. */

export const FINALIZER = 'dedicatedhsm.io/finalizer';

export const Annotations = {
  /** `manage` (default) | `observe` (report only, never write to Azure or the device) | `paused`. */
  reconcile: 'dedicatedhsm.io/reconcile',
  /** Trigger: re-read everything now (honoured once per distinct non-empty value; see TRIGGERS). */
  resyncNow: 'dedicatedhsm.io/resync-now',
  /** Trigger (NtlsClientBinding): push the client configuration to every target again. */
  repushNow: 'dedicatedhsm.io/repush-now',
  /** Trigger (HsmHaGroup): run `hagroup recover` now, also when the recovery circuit is open. */
  recoverNow: 'dedicatedhsm.io/recover-now',
  /** Second key for zeroization on delete (DedicatedHsm, deletionPolicy Delete): must equal the ARM resource name. */
  confirmZeroize: 'dedicatedhsm.io/confirm-zeroize',
  /**
   * Who set deletionPolicy Delete (DedicatedHsm): the destructive-actions admission policy makes it equal the
   * requesting user's name when Delete is set, keeps it while Delete stays, and (two-person rule) admits the
   * confirmation only from another user. The operator names it in its zeroize and delete Events.
   */
  deletionRequestedBy: 'dedicatedhsm.io/deletion-requested-by',
  /**
   * The confirmation, in words, that zeroizing may destroy the last live copy of an HA group's key material: must
   * equal keyMaterialLossPhrase(ARM name) exactly. Needed only when no other member of a group is alive and in sync.
   */
  acceptKeyMaterialLoss: 'dedicatedhsm.io/accept-key-material-loss',
  /** Lets an NtlsClientBinding with deletionPolicy Delete be deleted while an HSM is unreachable (device clean-up is skipped). */
  abandon: 'dedicatedhsm.io/abandon',
  /**
   * NtlsClientBinding: take over a client of this name that is registered on a target but was not registered by
   * this binding (its value must equal spec.clientName). Across namespaces only within a grant.
   */
  adoptClient: 'dedicatedhsm.io/adopt-client',
  /**
   * Adopts an existing Azure HSM that does not carry this object's ownership tag (DedicatedHsm): must name it, by
   * its ARM resource name or its full ARM resource ID. Without it such an HSM is refused (AdoptionRefused).
   */
  adopt: 'dedicatedhsm.io/adopt',
  /**
   * On a Secret: the objects allowed to use it as a device credential (see `credentialOptIn`). A Secret without it is
   * never sent to an appliance or a LunaCM client host.
   */
  credentialFor: 'dedicatedhsm.io/credential-for',
  /**
   * On a DedicatedHsm (appliance SSH) or an HsmHaGroup (LunaCM SSH, group password): an RFC 3339 time; rejections at or
   * before it no longer count against the failed-login budget of the appliance or client host it names. Never edited
   * by the operator.
   */
  credentialBudgetReset: 'dedicatedhsm.io/credential-budget-reset',
} as const;

export type AnnotationName = (typeof Annotations)[keyof typeof Annotations];

export const RECONCILE_MODES = ['manage', 'observe', 'paused'] as const;
export type ReconcileMode = (typeof RECONCILE_MODES)[number];
export const DEFAULT_RECONCILE_MODE: ReconcileMode = 'manage';

/**
 * Triggers by value (Flux's `reconcile.fluxcd.io/requestedAt` convention): the annotation's value is a token, usually
 * an RFC 3339 timestamp. The operator acts once per distinct non-empty value and records the value it handled in the
 * status field named here, before it acts; it never edits or removes the annotation, so a sync tool that keeps
 * applying it from Git sees no drift and causes no second action.
 */
export const TRIGGERS = [
  { verb: 'resync', annotation: Annotations.resyncNow, statusField: 'lastHandledResyncAt', kinds: ['DedicatedHsm', 'NtlsClientBinding', 'HsmHaGroup'] },
  { verb: 'repush', annotation: Annotations.repushNow, statusField: 'lastHandledRepushAt', kinds: ['NtlsClientBinding'] },
  { verb: 'recover', annotation: Annotations.recoverNow, statusField: 'lastHandledRecoverAt', kinds: ['HsmHaGroup'] },
] as const;

export type TriggerDefinition = (typeof TRIGGERS)[number];
export type TriggerVerb = TriggerDefinition['verb'];
export type TriggerAnnotation = TriggerDefinition['annotation'];
export type TriggerStatusField = TriggerDefinition['statusField'];

export const TRIGGER_ANNOTATIONS: readonly TriggerAnnotation[] = TRIGGERS.map((t) => t.annotation);

/** The longest trigger value the operator records (the status fields' maxLength); a longer one never fires. */
export const MAX_TRIGGER_VALUE = 1024;

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

/**
 * What a trigger asks for now: `fire` with the value to record and act on, when the annotation holds a non-empty value
 * other than `handled` (the value last recorded in status); `refused` when that value is longer than
 * MAX_TRIGGER_VALUE (it could not be recorded, so acting on it would repeat); otherwise nothing.
 */
export function requestedTrigger(annotations: AnnotationMap, trigger: TriggerAnnotation, handled: string | undefined): { fire: string } | { refused: string } | undefined {
  const value = annotations?.[trigger];
  if (value === undefined || value === '' || value === handled) return undefined;
  if (value.length > MAX_TRIGGER_VALUE) return { refused: `${trigger} holds ${value.length} characters, more than the ${MAX_TRIGGER_VALUE} the operator records; it is not acted on. Use a short token, such as an RFC 3339 timestamp.` };
  return { fire: value };
}

/** The second key for zeroization: present and equal, character for character, to the ARM resource name. */
export function zeroizeConfirmed(annotations: AnnotationMap, armName: string): boolean {
  const value = annotations?.[Annotations.confirmZeroize];
  return value !== undefined && armName.length > 0 && value === armName;
}

/** The words dedicatedhsm.io/accept-key-material-loss must hold, character for character, for the HSM `armName`. */
export function keyMaterialLossPhrase(armName: string): string {
  return `the key material on ${armName} may be lost`;
}

/** Whether the confirmation accepts, in words naming this HSM, that the last live copy of key material may be lost. */
export function keyMaterialLossAccepted(annotations: AnnotationMap, armName: string): boolean {
  return armName.length > 0 && annotations?.[Annotations.acceptKeyMaterialLoss] === keyMaterialLossPhrase(armName);
}

/** Who asked for deletionPolicy Delete, as the annotation says (verified at admission when the policy is installed). */
export function deletionRequestedBy(annotations: AnnotationMap): string | undefined {
  const v = annotations?.[Annotations.deletionRequestedBy];
  return v === undefined || v === '' ? undefined : v;
}

/** Whether the user allowed deletion without device clean-up. Only the literal "true" counts. */
export function abandonRequested(annotations: AnnotationMap): boolean {
  return annotations?.[Annotations.abandon] === 'true';
}

/**
 * Whether the adopt annotation names this Azure HSM: its ARM resource name exactly, or its ARM resource ID (ARM IDs
 * compare without regard to case).
 */
export function adoptionRequested(annotations: AnnotationMap, armName: string, resourceId: string): boolean {
  const value = annotations?.[Annotations.adopt]?.trim();
  if (!value || !armName) return false;
  return value === armName || value.replace(/\/+$/, '').toLowerCase() === resourceId.replace(/\/+$/, '').toLowerCase();
}

/** The kinds whose spec names a device credential: they are what `dedicatedhsm.io/credential-for` lists. */
export type CredentialUserKind = 'DedicatedHsm' | 'HsmHaGroup';

/**
 * Whether a Secret opted in to being used as a device credential by `user` (an object of the Secret's own namespace).
 * The annotation `dedicatedhsm.io/credential-for` is a comma-separated list of entries: `Kind/name` (exactly that
 * object, e.g. `DedicatedHsm/hsm-a`), `Kind/*` (every object of that kind in the namespace) or `*` (every object in the
 * namespace). Kinds are spelled as in `kind:` (case-sensitive). Anything else in the list is ignored, never widened.
 */
export function credentialOptIn(annotations: AnnotationMap, user: { kind: CredentialUserKind; name: string }): boolean {
  const value = annotations?.[Annotations.credentialFor];
  if (value === undefined) return false;
  return value
    .split(',')
    .map((e) => e.trim())
    .some((e) => e === '*' || e === `${user.kind}/*` || e === `${user.kind}/${user.name}`);
}
