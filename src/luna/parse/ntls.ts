/** `ntls show` (layout approximate in the reference: parsed loosely). */
import { LunaParseError } from '../errors.js';
import { checkLunash, lunashResult } from './output.js';

export interface NtlsShow {
  boundDevice?: string;
  ipAddress?: string;
}

export function parseNtlsShow(raw: string | Buffer): NtlsShow {
  const text = checkLunash('ntls show', raw);
  const out: NtlsShow = {};
  const device = /bound to network device\s*:\s*"?([A-Za-z0-9_.:-]+)"?/i.exec(text)?.[1];
  const ip = /IP Address\s*:\s*"?([0-9A-Fa-f.:]+)"?/i.exec(text)?.[1];
  if (device) out.boundDevice = device;
  if (ip) out.ipAddress = ip;
  if (!device && !ip && lunashResult(text) === undefined) throw new LunaParseError('ntls show', 'no binding and no command result');
  return out;
}
