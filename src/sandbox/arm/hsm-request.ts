/**
 * What an HSM PUT asks for (the 2021-11-30 body, validated like the service does) and which immutable
 * properties a repeated PUT would change.
 */
import { normalizeLocation, sameArmId } from '../../azure/ids.js';
import { ArmHttpError, LUNA_SKU } from './wire.js';

/** The service's name rule (Terraform is stricter: starts with a letter, no `--`). */
export const NAME_RULE = /^[a-zA-Z0-9-]{3,24}$/;
export const STAMPS = ['stamp1', 'stamp2'];

/** The properties of an existing HSM a PUT is compared with. */
export interface ExistingHsm {
  location: string;
  sku: string;
  subnetId: string;
  stampId?: string;
  zones?: string[];
  requestedIp?: string;
  privateIpAddress?: string;
}

export interface HsmRequest {
  location: string;
  sku: string;
  subnetId: string;
  privateIpAddress?: string;
  stampId?: string;
  zones?: string[];
  tags: Record<string, string>;
}

/**
 * Validation errors use documented ARM codes (LocationRequired, InvalidParameter: common deployment errors) and, like
 * ARM's common error shape, name the offending property in `target`.
 */
export function parseHsmBody(body: unknown): HsmRequest {
  const b = (body ?? {}) as { location?: unknown; sku?: { name?: unknown }; zones?: unknown; tags?: unknown; properties?: Record<string, unknown> };
  const props = (b.properties ?? {}) as { networkProfile?: { subnet?: { id?: unknown }; networkInterfaces?: Array<{ privateIpAddress?: unknown }> }; stampId?: unknown };
  if (typeof b.location !== 'string' || !b.location) throw new ArmHttpError(400, 'LocationRequired', 'The location property is required for this definition.');
  const sku = b.sku?.name;
  if (typeof sku !== 'string' || !sku) throw new ArmHttpError(400, 'InvalidParameter', "The property 'sku.name' is required.", {}, { target: 'sku.name' });
  if (sku.startsWith('payShield')) throw new ArmHttpError(400, 'InvalidParameter', `The SKU '${sku}' is a Payment HSM SKU, which this resource does not accept.`, {}, { target: 'sku.name' });
  if (sku !== LUNA_SKU) throw new ArmHttpError(400, 'InvalidParameter', `The value '${sku}' of property 'sku.name' is invalid.`, {}, { target: 'sku.name' });
  const subnetId = props.networkProfile?.subnet?.id;
  if (typeof subnetId !== 'string' || !subnetId) throw new ArmHttpError(400, 'InvalidParameter', "The property 'properties.networkProfile.subnet.id' is required.", {}, { target: 'properties.networkProfile.subnet.id' });
  const req: HsmRequest = { location: b.location, sku, subnetId, tags: b.tags === undefined ? {} : stringRecord(b.tags, 'tags') };
  const ip = props.networkProfile?.networkInterfaces?.[0]?.privateIpAddress;
  if (typeof ip === 'string' && ip) req.privateIpAddress = ip;
  if (typeof props.stampId === 'string' && props.stampId) {
    if (!STAMPS.includes(props.stampId)) throw new ArmHttpError(400, 'InvalidParameter', `The value '${props.stampId}' of property 'properties.stampId' is invalid.`, {}, { target: 'properties.stampId' });
    req.stampId = props.stampId;
  }
  if (Array.isArray(b.zones) && b.zones.length) req.zones = b.zones.map(String);
  return req;
}

export function changedImmutable(rec: ExistingHsm, req: HsmRequest): string[] {
  const out: string[] = [];
  if (normalizeLocation(rec.location) !== normalizeLocation(req.location)) out.push('location');
  if (rec.sku !== req.sku) out.push('sku.name');
  if (!sameArmId(rec.subnetId, req.subnetId)) out.push('properties.networkProfile.subnet.id');
  if (req.stampId && rec.stampId && req.stampId !== rec.stampId) out.push('properties.stampId');
  if ((req.zones ?? []).join(',') !== (rec.zones ?? []).join(',') && req.zones !== undefined) out.push('zones');
  if (req.privateIpAddress && rec.requestedIp !== req.privateIpAddress && rec.privateIpAddress !== req.privateIpAddress) out.push('properties.networkProfile.networkInterfaces.privateIpAddress');
  return out;
}

export function stampOf(h: { stampId?: string; zones?: string[] }): string {
  if (h.stampId) return h.stampId;
  if (h.zones?.length) return `zone-${[...h.zones].sort().join(',')}`;
  return 'unassigned';
}

export function stringRecord(v: unknown, what: string): Record<string, string> {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new ArmHttpError(400, 'InvalidParameter', `The property '${what}' must be an object of strings.`);
  const out: Record<string, string> = {};
  for (const [k, val] of Object.entries(v)) {
    if (typeof val !== 'string') throw new ArmHttpError(400, 'InvalidParameter', `The value of '${what}.${k}' must be a string.`);
    out[k] = val;
  }
  return out;
}
