/**
 * CPU time spent while something ran: this process (operator and simulators share it) and the control plane's
 * etcd and kube-apiserver (from /proc), next to the CPU time the machine had (wall time × cores). Tells a run that
 * waited on devices from one that was short of CPU.
 */
import { readFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { performance } from 'node:perf_hooks';

/** Linux reports process times in clock ticks; 100 per second on every common kernel configuration. */
const TICKS_PER_SECOND = 100;

function procSeconds(pid: number): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    // utime and stime are fields 14 and 15 of stat; after the command name they are at 11 and 12.
    return (Number(fields[11]) + Number(fields[12])) / TICKS_PER_SECOND;
  } catch {
    return 0;
  }
}

export interface CpuSnapshot {
  wall: number;
  self: number;
  controlPlane: number;
}

export function cpuNow(controlPlanePids: number[]): CpuSnapshot {
  const u = process.cpuUsage();
  return { wall: performance.now() / 1000, self: (u.user + u.system) / 1e6, controlPlane: controlPlanePids.reduce((s, p) => s + procSeconds(p), 0) };
}

export interface CpuUse {
  wallSeconds: number;
  /** CPU seconds of this process (operator + simulators). */
  benchProcess: number;
  /** CPU seconds of etcd + kube-apiserver. */
  controlPlane: number;
  /** The CPU seconds the machine had in that time (wall × cores). */
  available: number;
  /** (benchProcess + controlPlane) / available. */
  utilisation: number;
}

export function cpuSince(before: CpuSnapshot, controlPlanePids: number[]): CpuUse {
  const now = cpuNow(controlPlanePids);
  const wallSeconds = now.wall - before.wall;
  const benchProcess = now.self - before.self;
  const controlPlane = now.controlPlane - before.controlPlane;
  const available = wallSeconds * cpus().length;
  return { wallSeconds, benchProcess, controlPlane, available, utilisation: (benchProcess + controlPlane) / available };
}
