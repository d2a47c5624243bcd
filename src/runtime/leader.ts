/**
 * Leader election on a `coordination.k8s.io/v1` Lease, the client-go algorithm:
 * - a candidate takes the Lease when it is free (no holder, or released) or when its record has not changed
 *   for `leaseDurationMs` as observed on the candidate's own clock (so clock skew between nodes is harmless);
 * - the leader renews every `retryPeriodMs`; if it cannot renew for `renewDeadlineMs` (< lease duration) it
 *   steps down and calls `onStoppedLeading` before anyone else may take over;
 * - `stop({ release: true })` clears the holder and shortens the lease to 1 s so a standby takes over at once;
 *   `stop({ release: false })` simulates a crash (the Lease simply expires).
 * Writes are replaces carrying the resourceVersion: two candidates can never both win.
 */
import { jitterUp } from './backoff.js';
import { realClock, sleep, type Clock } from './clock.js';
import type { KubeClient } from './client.js';
import { errorMessage, isAlreadyExists, isConflict } from './errors.js';
import { toMicroTime } from './events.js';
import { silentLogger, type Logger } from './log.js';
import type { RuntimeMetrics } from './metrics.js';
import { CoreTypes, objectPath, type KubeObject } from './resource.js';

export interface LeaseSpec {
  holderIdentity?: string;
  leaseDurationSeconds?: number;
  acquireTime?: string;
  renewTime?: string;
  leaseTransitions?: number;
}

export interface LeaseObject extends KubeObject {
  spec?: LeaseSpec;
}

/** How long a Lease lasts, how long its leader may fail to renew it, and how often candidates and the leader try. */
export interface LeaseTiming {
  leaseDurationMs: number;
  renewDeadlineMs: number;
  retryPeriodMs: number;
}

/** client-go's defaults (15 s / 10 s / 2 s); the flags' defaults too (config.ts). */
export const DEFAULT_LEASE_TIMING: Readonly<LeaseTiming> = { leaseDurationMs: 15_000, renewDeadlineMs: 10_000, retryPeriodMs: 2_000 };

/** leaseDuration > renewDeadline > retryPeriod > 0: a leader steps down before anyone may take over, and retries before that. */
export function validLeaseTiming(t: LeaseTiming): boolean {
  return t.leaseDurationMs > t.renewDeadlineMs && t.renewDeadlineMs > t.retryPeriodMs && t.retryPeriodMs > 0;
}

/**
 * Which Lease, who campaigns for it, and its timing (default DEFAULT_LEASE_TIMING): the one declaration of the
 * leader-election options, which the flags (RuntimeConfig), the Manager and the elector share.
 */
export interface LeaderElection extends Partial<LeaseTiming> {
  namespace: string;
  /** Lease name. */
  name: string;
  /** This candidate's identity (pod name; unique per process). */
  identity: string;
}

export interface LeaderElectionOptions extends LeaderElection {
  client: KubeClient;
  onStartedLeading?: () => void;
  onStoppedLeading?: () => void;
  clock?: Clock;
  random?: () => number;
  log?: Logger;
  metrics?: RuntimeMetrics;
}

export class LeaderElector {
  readonly identity: string;
  private readonly client: KubeClient;
  private readonly namespace: string;
  private readonly name: string;
  private readonly leaseDurationMs: number;
  private readonly renewDeadlineMs: number;
  private readonly retryPeriodMs: number;
  private readonly clock: Clock;
  private readonly random: () => number;
  private readonly log: Logger;
  private readonly metrics: RuntimeMetrics | undefined;
  private readonly onStarted: () => void;
  private readonly onStopped: () => void;
  private observedRecord = '';
  private observedAt = 0;
  private lease: LeaseObject | undefined;
  private leading = false;
  /** When the Lease was last acquired or renewed (this candidate's clock). */
  private lastRenewAt = 0;
  private abort: AbortController | undefined;
  private loop: Promise<void> | undefined;

  constructor(options: LeaderElectionOptions) {
    this.client = options.client;
    this.namespace = options.namespace;
    this.name = options.name;
    this.identity = options.identity;
    this.leaseDurationMs = options.leaseDurationMs ?? DEFAULT_LEASE_TIMING.leaseDurationMs;
    this.renewDeadlineMs = options.renewDeadlineMs ?? DEFAULT_LEASE_TIMING.renewDeadlineMs;
    this.retryPeriodMs = options.retryPeriodMs ?? DEFAULT_LEASE_TIMING.retryPeriodMs;
    if (!validLeaseTiming({ leaseDurationMs: this.leaseDurationMs, renewDeadlineMs: this.renewDeadlineMs, retryPeriodMs: this.retryPeriodMs })) {
      throw new Error('leader election needs leaseDuration > renewDeadline > retryPeriod > 0');
    }
    this.clock = options.clock ?? realClock;
    this.random = options.random ?? Math.random;
    this.log = (options.log ?? silentLogger).child({ lease: `${this.namespace}/${this.name}`, identity: this.identity });
    this.metrics = options.metrics;
    this.onStarted = options.onStartedLeading ?? (() => undefined);
    this.onStopped = options.onStoppedLeading ?? (() => undefined);
  }

  /**
   * True while this candidate leads and its last renewal is younger than the renew deadline, by its own clock. A
   * process that was frozen (SIGSTOP, a long pause) past the deadline is not leader any more from the moment it
   * resumes, before its renew loop even runs: whatever it was doing must not go on acting (see fencing in the
   * device and Azure clients).
   */
  isLeader(): boolean {
    return this.leading && this.clock.now() - this.lastRenewAt < this.renewDeadlineMs;
  }

  /** The holder as last observed (possibly another candidate). */
  get observedHolder(): string | undefined {
    return this.lease?.spec?.holderIdentity || undefined;
  }

  start(): void {
    if (this.loop) return;
    this.setLeading(false); // a candidate reports 0 (backup) until it wins
    this.abort = new AbortController();
    this.loop = this.run(this.abort.signal);
  }

  /** Stops campaigning; as leader, releases the Lease unless `release` is false (a simulated crash). */
  async stop(options: { release?: boolean } = {}): Promise<void> {
    this.abort?.abort();
    await this.loop;
    this.loop = undefined;
    const wasLeader = this.leading;
    this.setLeading(false);
    if (wasLeader && options.release !== false) await this.release();
  }

  /** Also client-go's `leader_election_master_status{name}` (name: the Lease's name, as controller-runtime sets it). */
  private setLeading(v: boolean): void {
    this.leading = v;
    this.metrics?.leader.set({ lease: `${this.namespace}/${this.name}` }, v ? 1 : 0);
    this.metrics?.leaderElectionMasterStatus.set({ name: this.name }, v ? 1 : 0);
  }

  private jittered(ms: number): number {
    return jitterUp(ms, 0.2, this.random);
  }

  private async run(signal: AbortSignal): Promise<void> {
    while (!signal.aborted) {
      // Campaign.
      while (!signal.aborted && !(await this.tryAcquireOrRenew(this.renewDeadlineMs))) await sleep(this.clock, this.jittered(this.retryPeriodMs), signal);
      if (signal.aborted) return;
      this.setLeading(true);
      this.log.info('became leader');
      this.safe(this.onStarted, 'onStartedLeading');
      // Lead: renew until a renewal cannot be had within the deadline.
      let lastRenew = this.clock.now();
      while (!signal.aborted) {
        await sleep(this.clock, this.retryPeriodMs, signal);
        if (signal.aborted) return;
        const left = this.renewDeadlineMs - (this.clock.now() - lastRenew);
        if (left > 0 && (await this.tryAcquireOrRenew(left))) {
          lastRenew = this.clock.now();
          continue;
        }
        if (this.clock.now() - lastRenew >= this.renewDeadlineMs) break;
      }
      if (signal.aborted) return;
      this.setLeading(false);
      this.log.warn({ renewDeadlineMs: this.renewDeadlineMs }, 'leadership lost: could not renew the Lease in time');
      this.safe(this.onStopped, 'onStoppedLeading');
    }
  }

  private safe(fn: () => void, what: string): void {
    try {
      fn();
    } catch (e) {
      this.log.error({ err: errorMessage(e) }, `${what} callback threw`);
    }
  }

  private path(): string {
    return objectPath(CoreTypes.leases, this.namespace, this.name);
  }

  /** One attempt to take or keep the Lease; true when we hold it afterwards. */
  private async tryAcquireOrRenew(timeoutMs: number): Promise<boolean> {
    const now = this.clock.now();
    const leaseSeconds = Math.ceil(this.leaseDurationMs / 1000);
    try {
      let lease: LeaseObject | undefined;
      try {
        lease = await this.client.request<LeaseObject>({ verb: 'GET', path: this.path(), timeoutMs });
      } catch (e) {
        if ((e as { code?: number }).code !== 404) throw e;
      }
      if (!lease) {
        const created = await this.client.request<LeaseObject>({
          verb: 'POST',
          path: this.path().replace(/\/[^/]+$/, ''),
          timeoutMs,
          body: {
            apiVersion: 'coordination.k8s.io/v1',
            kind: 'Lease',
            metadata: { name: this.name, namespace: this.namespace },
            spec: { holderIdentity: this.identity, leaseDurationSeconds: leaseSeconds, acquireTime: toMicroTime(now), renewTime: toMicroTime(now), leaseTransitions: 0 },
          },
        });
        this.observe(created, this.clock.now());
        this.lastRenewAt = now;
        return true;
      }
      this.observe(lease, now);
      const spec = lease.spec ?? {};
      const holder = spec.holderIdentity ?? '';
      const duration = (spec.leaseDurationSeconds ?? leaseSeconds) * 1000;
      if (holder && holder !== this.identity && this.observedAt + duration > now) return false;
      const mine = holder === this.identity;
      const updated = await this.client.request<LeaseObject>({
        verb: 'PUT',
        path: this.path(),
        timeoutMs,
        body: {
          ...lease,
          spec: {
            holderIdentity: this.identity,
            leaseDurationSeconds: leaseSeconds,
            acquireTime: mine && spec.acquireTime ? spec.acquireTime : toMicroTime(now),
            renewTime: toMicroTime(now),
            leaseTransitions: (spec.leaseTransitions ?? 0) + (mine ? 0 : 1),
          },
        },
      });
      this.observe(updated, this.clock.now());
      // Counted from when the renewal was asked for: the others' lease clocks start no earlier than that.
      this.lastRenewAt = now;
      if (!mine) this.log.info({ previousHolder: holder || '(none)' }, 'acquired the Lease');
      return true;
    } catch (e) {
      if (!(isConflict(e) || isAlreadyExists(e))) this.log.warn({ err: errorMessage(e) }, 'Lease read/write failed');
      return false;
    }
  }

  private observe(lease: LeaseObject, now: number): void {
    this.lease = lease;
    const record = JSON.stringify(lease.spec ?? {});
    if (record !== this.observedRecord) {
      this.observedRecord = record;
      this.observedAt = now;
    }
  }

  /** Clears the holder so a standby takes over without waiting for the lease to expire. */
  private async release(): Promise<void> {
    const lease = this.lease;
    if (!lease || lease.spec?.holderIdentity !== this.identity) return;
    const now = toMicroTime(this.clock.now());
    try {
      const released = await this.client.request<LeaseObject>({
        verb: 'PUT',
        path: this.path(),
        timeoutMs: this.renewDeadlineMs,
        body: { ...lease, spec: { leaseDurationSeconds: 1, acquireTime: now, renewTime: now, leaseTransitions: lease.spec?.leaseTransitions ?? 0 } },
      });
      this.lease = released;
      this.log.info('released the Lease');
    } catch (e) {
      this.log.warn({ err: errorMessage(e) }, 'could not release the Lease; the next leader waits for it to expire');
    }
  }
}
