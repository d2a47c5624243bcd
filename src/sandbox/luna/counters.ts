/** Per-command counters of a simulator, so tests can assert what reached the device (and what did not). */
export interface CommandCounters {
  /** Commands received, by canonical name (`client register`, `hagroup recover`, `scp upload`, ...). */
  byName: Record<string, number>;
  stateChanging: number;
  readOnly: number;
  /** Lines refused before interpretation (bad syntax, shell metacharacters). */
  rejected: number;
  /** Commands received that name a client (`-client <name>`), by that name: who asked about whose client. */
  byClient: Record<string, number>;
}

export const newCommandCounters = (): CommandCounters => ({ byName: {}, stateChanging: 0, readOnly: 0, rejected: 0, byClient: {} });

export function countCommand(c: CommandCounters, name: string, changesState: boolean): void {
  c.byName[name] = (c.byName[name] ?? 0) + 1;
  if (changesState) c.stateChanging++;
  else c.readOnly++;
}

export interface LoginCounters {
  success: number;
  failure: number;
}
