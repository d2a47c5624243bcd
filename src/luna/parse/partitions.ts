/** `partition list` (Luna 7.x table). */
import { LunaParseError } from '../errors.js';
import { checkLunash, lunashResult } from './output.js';

export interface PartitionInfo {
  serial: string;
  label: string;
  version?: string;
  objects?: number;
  total?: number;
  used?: number;
  free?: number;
}

export function parsePartitionList(raw: string | Buffer): PartitionInfo[] {
  const text = checkLunash('partition list', raw);
  const rows: PartitionInfo[] = [];
  let sawHeader = false;
  for (const line of text.split('\n')) {
    if (/^\s*Partition\s+Name\s+/i.test(line) || /^\s*={5,}/.test(line)) {
      sawHeader = true;
      continue;
    }
    const m = /^\s*(\d{4,})\s+(\S+)(.*)$/.exec(line);
    if (!m?.[1] || !m[2]) continue;
    const rest = (m[3] ?? '').trim().split(/\s+/).filter(Boolean);
    const num = (i: number): number | undefined => {
      const v = rest[i];
      return v !== undefined && /^\d+$/.test(v) ? Number(v) : undefined;
    };
    const row: PartitionInfo = { serial: m[1], label: m[2] };
    if (rest[0] !== undefined) row.version = rest[0];
    const [objects, total, used, free] = [num(1), num(2), num(3), num(4)];
    if (objects !== undefined) row.objects = objects;
    if (total !== undefined) row.total = total;
    if (used !== undefined) row.used = used;
    if (free !== undefined) row.free = free;
    rows.push(row);
  }
  if (rows.length === 0 && !sawHeader && !/no partitions/i.test(text) && lunashResult(text) === undefined) {
    throw new LunaParseError('partition list', 'neither a partition table nor a command result');
  }
  return rows;
}
