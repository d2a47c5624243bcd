/**
 * The sandbox's live view. On a terminal: story lines scroll above a table (`kubectl get dhsm,ntlsb,hsmha`
 * style) that is redrawn in place as resources converge. Elsewhere (CI, pipes, tests): plain lines, one per
 * story line and one per change of a resource's READY, REASON or key fields.
 */
import { formatTable, rowOf, sortObjects, type HsmObject, type ResourceRow } from '../cli/resources.js';
import type { EventObject } from '../runtime/index.js';

export interface ViewOutput {
  write(text: string): unknown;
  columns?: number;
}

export interface ViewOptions {
  out: ViewOutput;
  /** Redraw in place (a terminal) or print change lines. */
  tty: boolean;
  /** Time zero for the `+12.3s` stamps. */
  startedAt?: number;
  now?: () => number;
}

export function elapsed(ms: number): string {
  if (ms < 60_000) return `+${(ms / 1000).toFixed(1)}s`;
  const s = Math.floor(ms / 1000);
  return `+${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s`;
}

const rowKey = (r: ResourceRow) => `${r.kind}/${r.namespace}/${r.name}`;
const rowState = (r: ResourceRow) => `${r.ready}|${r.reason}|${r.details}|${r.message}`;

/** The plain line for a resource that changed. */
export function changeLine(r: ResourceRow): string {
  const msg = r.ready !== 'True' && r.message ? ` - ${r.message.replace(/\s+/g, ' ')}` : '';
  return `${r.kind}/${r.name}  Ready=${r.ready} ${r.reason}  ${r.details}${msg}`;
}

/** A story line for an Event the operator recorded. */
export function eventLine(e: Pick<EventObject, 'type' | 'reason' | 'note' | 'regarding'>): string {
  const who = `${e.regarding.kind ?? '?'}/${e.regarding.name ?? '?'}`;
  return `event ${who}: ${e.type === 'Warning' ? 'Warning ' : ''}${e.reason} - ${e.note.replace(/\s+/g, ' ')}`;
}

export class LiveView {
  private readonly out: ViewOutput;
  private readonly tty: boolean;
  private readonly startedAt: number;
  private readonly now: () => number;
  private objects: HsmObject[] = [];
  private lastRows = new Map<string, string>();
  private drawn = 0;
  private footer = '';
  private closed = false;

  constructor(o: ViewOptions) {
    this.out = o.out;
    this.tty = o.tty;
    this.now = o.now ?? Date.now;
    this.startedAt = o.startedAt ?? this.now();
  }

  private stamp(): string {
    return elapsed(this.now() - this.startedAt).padStart(8);
  }

  private width(): number {
    return Math.max(40, (this.out.columns ?? 120) - 1);
  }

  /** A story line (what happens and why), stamped with the time since start. */
  say(line: string): void {
    const text = `${this.stamp()}  ${line}`;
    if (!this.tty) {
      this.out.write(`${text}\n`);
      return;
    }
    this.erase();
    for (const l of text.split('\n')) this.out.write(`${l}\n`);
    this.draw();
  }

  /** A line under the table on a terminal (e.g. what the run waits for); ignored elsewhere. */
  status(line: string): void {
    this.footer = line;
    if (this.tty) this.redraw();
  }

  /** The resources as they are now. */
  update(objects: readonly HsmObject[]): void {
    this.objects = sortObjects(objects);
    const rows = this.objects.map(rowOf);
    const changed = rows.filter((r) => this.lastRows.get(rowKey(r)) !== rowState(r));
    this.lastRows = new Map(rows.map((r) => [rowKey(r), rowState(r)]));
    if (this.tty) this.redraw();
    // A row without status yet says nothing new: the apply line already named it.
    else for (const r of changed) if (r.ready !== '-') this.out.write(`${this.stamp()}  ${changeLine(r)}\n`);
  }

  /** Whether the table is redrawn in place (it is then still on screen when the summary is printed). */
  get inPlace(): boolean {
    return this.tty;
  }

  /** The table as plain text; a NAMESPACE column once the resources live in more than one namespace (the platform team's and an app team's). */
  table(): string[] {
    const namespaces = new Set(this.objects.map((o) => o.metadata.namespace)).size > 1;
    return formatTable(this.objects.map(rowOf), { messageWidth: this.width(), namespaces });
  }

  /** Leaves the last table on screen and stops redrawing. */
  close(): void {
    if (this.tty && !this.closed) this.redraw();
    this.closed = true;
    this.drawn = 0;
  }

  /** Redraws in place again after a summary was printed (the sandbox keeps running). */
  reopen(): void {
    this.closed = false;
    this.drawn = 0;
  }

  private redraw(): void {
    if (this.closed) return;
    this.erase();
    this.draw();
  }

  private erase(): void {
    if (this.drawn > 0) this.out.write(`\x1b[${this.drawn}F\x1b[0J`);
    this.drawn = 0;
  }

  private draw(): void {
    if (this.closed) return;
    const w = this.width();
    const lines = this.objects.length ? ['', ...this.table()] : [];
    if (this.footer) lines.push('', this.footer);
    const cut = lines.map((l) => (l.length > w ? `${l.slice(0, w - 1)}…` : l));
    for (const l of cut) this.out.write(`${l}\n`);
    this.drawn = cut.length;
  }
}
