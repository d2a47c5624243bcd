/** `hsm show`: versions, serial, zeroized state and HSM SO attempts left. */
import { LunaParseError } from '../errors.js';
import { checkLunash, keyValue } from './output.js';

export interface HsmPartitionSummary {
  serial: string;
  label: string;
}

export interface HsmShow {
  softwareVersion?: string;
  label?: string;
  serial: string;
  firmware?: string;
  model?: string;
  authenticationMethod?: string;
  adminLoggedIn?: boolean;
  /** `undefined` when the output did not say (truncated): never assume either way. */
  zeroized: boolean | undefined;
  /** HSM SO (Admin) login attempts left before zeroization; `undefined` when zeroized or not printed. */
  soLoginAttemptsLeft?: number;
  partitions: HsmPartitionSummary[];
}

export function parseHsmShow(raw: string | Buffer): HsmShow {
  const text = checkLunash('hsm show', raw);
  const out: Partial<HsmShow> & { partitions: HsmPartitionSummary[] } = { partitions: [], zeroized: undefined };
  for (const line of text.split('\n')) {
    // A label is the rest of the line: labels set by hand may contain spaces.
    const part = /Partition\s*:?\s*(\d+)\s*,\s*Name\s*:\s*(.*?)\s*$/i.exec(line);
    if (part?.[1] && part[2]) {
      out.partitions.push({ serial: part[1], label: part[2] });
      continue;
    }
    const kv = keyValue(line);
    if (!kv) continue;
    const [key, value] = kv;
    if (key === 'software version') out.softwareVersion = value || undefined;
    else if (key === 'hsm label') out.label = value || undefined;
    else if (key === 'serial #' || key === 'serial number' || key === 'serial') {
      const serial = /^\d+/.exec(value)?.[0];
      if (serial) out.serial = serial;
    } else if (key === 'firmware' || key === 'firmware version') out.firmware = value || undefined;
    else if (key === 'hsm model') out.model = value || undefined;
    else if (key === 'authentication method') out.authenticationMethod = value || undefined;
    else if (key.endsWith('login status')) out.adminLoggedIn = /^logged in/i.test(value);
    else if (key.endsWith('login attempts left')) {
      if (/zeroized/i.test(value)) out.zeroized = true;
      else {
        const left = /^(\d+)/.exec(value)?.[1];
        if (left !== undefined) {
          out.soLoginAttemptsLeft = Number(left);
          out.zeroized = false;
        }
      }
    }
  }
  if (/HSM IS ZEROIZED/i.test(text)) {
    out.zeroized = true;
    delete out.soLoginAttemptsLeft;
  }
  if (!out.serial) throw new LunaParseError('hsm show', 'no HSM serial number in the output');
  return { ...out, serial: out.serial, zeroized: out.zeroized };
}
