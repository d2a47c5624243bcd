/** What a benchmark hands back: figures (each with its target, if the issue sets one), tables and raw details. */
import { cpus, loadavg, totalmem } from 'node:os';

export type Comparison = '<=' | '>=' | '==';

export interface Figure {
  id: string;
  label: string;
  value: number;
  unit: string;
  target?: { op: Comparison; value: number };
  /** One line of context printed next to the figure (what it was measured over). */
  note?: string;
}

export interface Table {
  title: string;
  columns: string[];
  rows: (string | number)[][];
}

export interface Machine {
  cpus: number;
  cpuModel: string;
  memoryGiB: number;
  node: string;
  /** 1-minute load average when the benchmark started (other work on this machine). */
  loadAtStart: number;
}

export interface BenchResult {
  name: string;
  title: string;
  /** What produced it when it is not a benchmark of bench/run.ts (e.g. the image tier's figures, recorded by hand). */
  command?: string;
  /** How it was measured, one paragraph per entry (rendered into RESULTS.md). */
  method: string[];
  figures: Figure[];
  tables: Table[];
  details: Record<string, unknown>;
  startedAt: string;
  durationMs: number;
  machine: Machine;
}

export function machine(): Machine {
  const c = cpus();
  return {
    cpus: c.length,
    cpuModel: c[0]?.model ?? 'unknown',
    memoryGiB: Math.round((totalmem() / 2 ** 30) * 10) / 10,
    node: process.version,
    loadAtStart: Math.round((loadavg()[0] ?? 0) * 100) / 100,
  };
}

/** Whether a figure meets its target (undefined when it has none). */
export function meets(f: Figure): boolean | undefined {
  if (!f.target) return undefined;
  if (!Number.isFinite(f.value)) return false;
  switch (f.target.op) {
    case '<=':
      return f.value <= f.target.value;
    case '>=':
      return f.value >= f.target.value;
    case '==':
      return f.value === f.target.value;
  }
}
