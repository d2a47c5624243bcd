/**
 * A scenario replays one story of the troubleshooting guide in the sandbox: how the world is set up, what the
 * samples look like, what happens to the world while the operator runs, and the end state it promises.
 */
import type { DedicatedHsm, HsmHaGroup, NtlsClientBinding } from '../../api/index.js';
import type { HsmKind, HsmObject } from '../../cli/resources.js';
import type { KubeClient } from '../../runtime/index.js';
import type { Manifest } from '../manifests.js';
import type { SampleNamespaces } from '../samples.js';
import type { World, WorldOptions } from '../world.js';

export interface Snapshot {
  hsms: DedicatedHsm[];
  bindings: NtlsClientBinding[];
  groups: HsmHaGroup[];
  all: HsmObject[];
  /** Reasons of the Events recorded so far, per `Kind/name`. */
  eventReasons: Map<string, Set<string>>;
}

/** A custom resource the run applied (names are unique across the sandbox's namespaces). */
export interface AppliedResource {
  kind: HsmKind;
  namespace: string;
  name: string;
}

export interface ScenarioContext {
  world: World;
  /** The platform team's namespace (HSMs, their Secrets, grant, HA group) and app team A's (bindings, their Secrets). */
  namespaces: SampleNamespaces;
  client: KubeClient;
  /** The custom resources the run applied. */
  applied: readonly AppliedResource[];
  /** A story line: what the world does now, or what a human would do. */
  say(line: string): void;
  /** Resolves with the first truthy value of `check` (re-evaluated on every change); rejects when the run is aborted. */
  waitFor<T>(what: string, check: (s: Snapshot) => T | undefined | false): Promise<T>;
  /** Polls an asynchronous check (e.g. a Secret's content) every `everyMs` until it answers truthy; aborts like waitFor. */
  poll<T>(what: string, check: () => Promise<T | undefined | false>, everyMs?: number): Promise<T>;
  sleep(ms: number): Promise<void>;
  /** A Secret's data, decoded; undefined if it does not exist. */
  readSecret(namespace: string, name: string): Promise<Record<string, string> | undefined>;
  /** Sets one key of a Secret (merge patch of `data`). */
  setSecret(namespace: string, name: string, key: string, value: string): Promise<void>;
  /** Merges annotations into an applied custom resource (found by kind and name). */
  annotate(kind: HsmKind, name: string, annotations: Record<string, string>): Promise<void>;
}

export interface Scenario {
  name: string;
  /** One line for `--help` and the banner. */
  title: string;
  /** The guide's section this replays. */
  guideSection: string;
  /** What the run ends in (the state `--exit-when-ready` waits for). */
  promise: string;
  /** World options on top of the sandbox's defaults. */
  world?(o: WorldOptions): WorldOptions;
  /** Changes to the prepared samples before they are applied. */
  samples?(manifests: Manifest[]): void;
  /** World scripting before the samples are applied (faults, seeded leftovers). */
  seed?(ctx: ScenarioContext): Promise<void> | void;
  /** After seed, before the samples are applied: what a human does with the manifests first (e.g. plan them). */
  beforeApply?(ctx: ScenarioContext, manifests: readonly Manifest[]): Promise<void>;
  /** The story; resolves with a line that states the end state reached. */
  play(ctx: ScenarioContext): Promise<string>;
}
