/**
 * Argument validation for lunash and LunaCM command lines. Everything a caller passes is checked against a
 * narrow grammar before a command is built, so no client name, label or host can smuggle shell syntax.
 */
import { isIP } from 'node:net';
import { InvalidArgumentError } from './errors.js';

const NAME = /^[A-Za-z0-9][A-Za-z0-9._-]*$/;
const HOST_LABEL = /^[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?$/;

/** Client names, partition labels, HA group labels, file names: `^[A-Za-z0-9][A-Za-z0-9._-]*$`, at most 64 chars. */
export function validName(field: string, value: string): string {
  if (typeof value !== 'string' || value.length === 0) throw new InvalidArgumentError(field, 'must not be empty');
  if (value.length > 64) throw new InvalidArgumentError(field, 'longer than 64 characters');
  if (!NAME.test(value)) throw new InvalidArgumentError(field, `${JSON.stringify(value)} must match ${NAME.source}`);
  return value;
}

/** A file in the appliance user's home directory (no path component). */
export function validFileName(value: string): string {
  const name = validName('file name', value);
  if (name === '.' || name === '..') throw new InvalidArgumentError('file name', 'must name a file');
  return name;
}

/** Digits only (HSM and partition serial numbers). */
export function validSerial(field: string, value: string | number): string {
  const s = String(value);
  if (!/^\d{1,20}$/.test(s)) throw new InvalidArgumentError(field, `${JSON.stringify(s)} must be 1 to 20 digits`);
  return s;
}

export function validIp(field: string, value: string): string {
  if (typeof value !== 'string' || isIP(value) === 0) throw new InvalidArgumentError(field, `${JSON.stringify(value)} is not an IP address`);
  return value;
}

/** RFC 1123 host name (dot-separated labels, at most 253 characters). */
export function validHostname(field: string, value: string): string {
  if (typeof value !== 'string' || value.length === 0 || value.length > 253) throw new InvalidArgumentError(field, 'must be 1 to 253 characters');
  if (!value.split('.').every((label) => HOST_LABEL.test(label))) throw new InvalidArgumentError(field, `${JSON.stringify(value)} is not a valid host name`);
  return value;
}

/** A host name or an IP address (SSH endpoints). */
export function validHost(field: string, value: string): string {
  return isIP(value) ? value : validHostname(field, value);
}

export function validInteger(field: string, value: number, min: number, max: number): number {
  if (!Number.isInteger(value) || value < min || value > max) throw new InvalidArgumentError(field, `must be an integer from ${min} to ${max}`);
  return value;
}

export function validPort(field: string, value: number): number {
  return validInteger(field, value, 1, 65535);
}

/**
 * Passwords travel quoted; they only need to be printable and single-line. The error never repeats the value.
 */
export function validPassword(field: string, value: string): string {
  if (typeof value !== 'string' || value.length === 0) throw new InvalidArgumentError(field, 'must not be empty');
  if (value.length > 255) throw new InvalidArgumentError(field, 'longer than 255 characters');
  // eslint-disable-next-line no-control-regex
  if (/[\u0000-\u001f\u007f]/.test(value)) throw new InvalidArgumentError(field, 'contains control characters');
  return value;
}

/** POSIX single-quoting: the remote shell sees exactly one word, whatever the value. */
export function shellQuote(value: string): string {
  return /^[A-Za-z0-9._\-/:=@]+$/.test(value) ? value : `'${value.replace(/'/g, `'\\''`)}'`;
}
