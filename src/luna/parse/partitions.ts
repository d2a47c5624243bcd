/**
 * `partition list` (lunash), read by its header: the columns are the runs of `=` in the underline, named by the
 * header words above them, so layouts with and without the `Partition Version` column (test/fixtures/luna/
 * partition-list) read the same and labels may contain spaces. A table it cannot map is refused, never guessed.
 */
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

type Field = 'serial' | 'label' | 'version' | 'objects' | 'total' | 'used' | 'free';
const NUMERIC: readonly Field[] = ['objects', 'total', 'used', 'free'];

interface Column {
  start: number;
  end: number;
  header: string;
  field?: Field;
}

const CMD = 'partition list';

/** Words of a line with their positions. */
function words(line: string): { text: string; start: number; end: number }[] {
  return [...line.matchAll(/\S+/g)].map((m) => ({ text: m[0], start: m.index, end: m.index + m[0].length - 1 }));
}

const overlap = (a: { start: number; end: number }, c: Column): number => Math.max(0, Math.min(a.end, c.end) - Math.max(a.start, c.start) + 1);
const distance = (a: { start: number; end: number }, c: Column): number => (a.end < c.start ? c.start - a.end : a.start > c.end ? a.start - c.end : 0);

/** The column a word belongs to: the one it overlaps most, else the nearest (right-aligned numbers may spill left). */
function columnOf(w: { start: number; end: number }, columns: readonly Column[]): number {
  let best = -1;
  let bestScore = -Infinity;
  for (const [i, c] of columns.entries()) {
    const score = overlap(w, c) > 0 ? overlap(w, c) : -distance(w, c);
    if (score > bestScore) {
      best = i;
      bestScore = score;
    }
  }
  return best;
}

function fieldOf(header: string, index: number): Field | undefined {
  const h = header.toLowerCase().replace(/\s+/g, ' ').trim();
  if (/version/.test(h)) return 'version';
  if (/\bname\b|\blabel\b/.test(h)) return 'label';
  if (/objects/.test(h)) return 'objects';
  if (/\btotal\b/.test(h)) return 'total';
  if (/\bused\b/.test(h)) return 'used';
  if (/\bfree\b/.test(h)) return 'free';
  if (index === 0 && /partition|serial/.test(h)) return 'serial';
  if (/serial/.test(h)) return 'serial';
  return undefined;
}

export function parsePartitionList(raw: string | Buffer): PartitionInfo[] {
  const text = checkLunash(CMD, raw);
  const lines = text.split('\n');
  const underline = lines.findIndex((l) => /^\s*=+(?:\s+=+)+\s*$/.test(l));
  if (underline < 0) {
    if (/no partitions/i.test(text) || (lunashResult(text) !== undefined && !lines.some((l) => /^\s*\d{4,}\s/.test(l)))) return [];
    throw new LunaParseError(CMD, `no table header (a line of = under the column names); it printed: "${text.replace(/\s+/g, ' ').trim().slice(0, 160)}"`);
  }
  const columns: Column[] = words(lines[underline] ?? '').map((w) => ({ start: w.start, end: w.end, header: '' }));
  // Header lines: the non-blank lines right above the underline; dash runs are group rulers, not names.
  for (let i = underline - 1; i >= 0 && (lines[i] ?? '').trim() !== ''; i--) {
    const parts: string[][] = columns.map(() => []);
    for (const w of words(lines[i] ?? '')) {
      if (/^-+$/.test(w.text)) continue;
      const c = columnOf(w, columns);
      if (c >= 0) parts[c]?.push(w.text);
    }
    columns.forEach((c, j) => (c.header = `${(parts[j] ?? []).join(' ')} ${c.header}`.trim()));
  }
  columns.forEach((c, i) => {
    const f = fieldOf(c.header, i);
    if (f) c.field = f;
  });
  const described = columns.map((c) => c.header || '?').join(' | ');
  if (!columns.some((c) => c.field === 'serial') || !columns.some((c) => c.field === 'label')) {
    throw new LunaParseError(CMD, `no Partition and Name columns in the header (${described})`);
  }
  const rows: PartitionInfo[] = [];
  for (const line of lines.slice(underline + 1)) {
    if (!line.trim()) continue;
    if (/^\s*Command Result\s*:/i.test(line) || /no partitions/i.test(line)) continue;
    const cells: string[][] = columns.map(() => []);
    for (const w of words(line)) cells[columnOf(w, columns)]?.push(w.text);
    const value = (f: Field): string | undefined => {
      const i = columns.findIndex((c) => c.field === f);
      const v = i < 0 ? undefined : (cells[i] ?? []).join(' ');
      return v === undefined || v === '' ? undefined : v;
    };
    const serial = value('serial');
    const label = value('label');
    if (!serial || !/^\d+$/.test(serial) || !label) throw new LunaParseError(CMD, `a row it cannot read under (${described}): "${line.trim().slice(0, 120)}"`);
    const row: PartitionInfo = { serial, label };
    const version = value('version');
    if (version !== undefined) row.version = version;
    for (const f of NUMERIC) {
      const v = value(f);
      if (v === undefined) continue;
      if (!/^\d+$/.test(v)) throw new LunaParseError(CMD, `column ${f} of partition ${serial} is not a number: "${v}"`);
      (row as Record<Field, string | number>)[f] = Number(v);
    }
    rows.push(row);
  }
  return rows;
}
