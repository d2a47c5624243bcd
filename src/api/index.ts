/** The operator's API: group/version, kinds, their TypeScript types (derived from the schemas), vocabulary. */
import type { ObjectMeta } from '../runtime/resource.js';
import { API_VERSION } from './group.js';
import type { KindDefinition } from './crd.js';
import { DedicatedHsmDefinition, type DedicatedHsmSpec, type DedicatedHsmStatus } from './dedicatedhsm.js';
import { NtlsClientBindingDefinition, type NtlsClientBindingSpec, type NtlsClientBindingStatus } from './ntlsclientbinding.js';
import { HsmHaGroupDefinition, type HsmHaGroupSpec, type HsmHaGroupStatus } from './hsmhagroup.js';
import { HsmGrantDefinition, type HsmGrantSpec } from './hsmgrant.js';

export { GROUP, VERSION, API_VERSION, CATEGORY } from './group.js';
export type { Condition, CelRule } from './common.js';
export { ConditionSchema, Patterns } from './common.js';
export * from './conditions.js';
export * from './annotations.js';
export { parseDuration } from './duration.js';
export {
  SKU_A790,
  STAMPS,
  ZONES,
  DELETION_POLICIES,
  OWNER_TAGS,
  DedicatedHsmSpecSchema,
  DedicatedHsmStatusSchema,
  DedicatedHsmDefinition,
  type DeletionPolicy,
  type DedicatedHsmSpec,
  type DedicatedHsmAzure,
  type DedicatedHsmAppliance,
  type DedicatedHsmStatus,
} from './dedicatedhsm.js';
export {
  KEY_ALGORITHMS,
  OUTPUT_SECRET_SUFFIX,
  NtlsClientBindingSpecSchema,
  NtlsClientBindingStatusSchema,
  NtlsClientBindingDefinition,
  outputSecretName,
  type KeyAlgorithm,
  type NtlsClientBindingSpec,
  type NtlsClientBindingStatus,
} from './ntlsclientbinding.js';
export { HsmHaGroupSpecSchema, HsmHaGroupStatusSchema, HsmHaGroupDefinition, type HsmHaGroupSpec, type HsmHaGroupStatus } from './hsmhagroup.js';
export {
  GRANTABLE_KINDS,
  REVOCATION_POLICIES,
  HsmGrantSpecSchema,
  HsmGrantDefinition,
  type GrantableKind,
  type RevocationPolicy,
  type HsmGrantSpec,
} from './hsmgrant.js';
export type { KindDefinition, PrinterColumn } from './crd.js';

/** What a client needs to address a kind: kind, plural and apiVersion. */
export interface KindRef<K extends string = string> {
  kind: K;
  plural: string;
  apiVersion: typeof API_VERSION;
}

export const DedicatedHsmKind: KindRef<'DedicatedHsm'> = { kind: 'DedicatedHsm', plural: DedicatedHsmDefinition.plural, apiVersion: API_VERSION };
export const NtlsClientBindingKind: KindRef<'NtlsClientBinding'> = {
  kind: 'NtlsClientBinding',
  plural: NtlsClientBindingDefinition.plural,
  apiVersion: API_VERSION,
};
export const HsmHaGroupKind: KindRef<'HsmHaGroup'> = { kind: 'HsmHaGroup', plural: HsmHaGroupDefinition.plural, apiVersion: API_VERSION };
export const HsmGrantKind: KindRef<'HsmGrant'> = { kind: 'HsmGrant', plural: HsmGrantDefinition.plural, apiVersion: API_VERSION };

/** Every kind, in the order the CRDs and docs list them. */
export const KINDS: readonly KindDefinition[] = [DedicatedHsmDefinition, NtlsClientBindingDefinition, HsmHaGroupDefinition, HsmGrantDefinition];

/**
 * An object as the API server serves it: defaulted fields are always present (defaults apply on every read), which
 * is why spec types list them as required.
 */
export type Resource<K extends string, Spec, Status> = {
  apiVersion: typeof API_VERSION;
  kind: K;
  metadata: ObjectMeta;
  spec: Spec;
  status?: Status;
  [k: string]: unknown;
};

/** Object metadata as served: the runtime's generic shape (the fields the operator reads; the rest passes through). */
export type { ObjectMeta } from '../runtime/resource.js';

export type DedicatedHsm = Resource<'DedicatedHsm', DedicatedHsmSpec, DedicatedHsmStatus>;
export type NtlsClientBinding = Resource<'NtlsClientBinding', NtlsClientBindingSpec, NtlsClientBindingStatus>;
export type HsmHaGroup = Resource<'HsmHaGroup', HsmHaGroupSpec, HsmHaGroupStatus>;
export type HsmGrant = Resource<'HsmGrant', HsmGrantSpec, never>;
