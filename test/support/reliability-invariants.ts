/**
 * The DESIGN.md invariants as checks over the simulators' state and counters and the objects' status. Each
 * check returns the violations it found (empty = held), so a test can `expect(violations).toEqual([])` and a
 * failure names every broken promise at once.
 */
import type { SimClient } from '../../src/sandbox/luna/appliance-state.js';
import type { World } from '../../src/sandbox/world.js';
import type { EventObj, KubeObj } from './reliability-kube.js';
import type { PlantedSecret } from './reliability-world.js';

/**
 * Invariant 2 and the safety promise: no appliance zeroized, no HSM SO login ever attempted (the operator never
 * logs in as SO unless told to zeroize), no partition locked or charged a failed CO login beyond `allowedCoFailures`.
 */
export function safetyViolations(world: World, opts: { allowedCoFailures?: Record<string, number> } = {}): string[] {
  const out: string[] = [];
  for (const [name, sim] of world.appliances) {
    const s = sim.state;
    if (s.zeroized) out.push(`${name}: zeroized`);
    if (s.soAttemptsLeft !== 3) out.push(`${name}: HSM SO attempts left ${s.soAttemptsLeft}, expected 3`);
    const logins = sim.counters.hsmLogins.success + sim.counters.hsmLogins.failure;
    if (logins !== 0) out.push(`${name}: ${logins} hsm login attempt(s), expected 0`);
    for (const p of s.partitions) {
      const allowed = opts.allowedCoFailures?.[p.serial] ?? 0;
      if (p.coFailedLogins > allowed) out.push(`${name}/${p.label}: ${p.coFailedLogins} failed CO login(s), at most ${allowed} allowed`);
    }
  }
  return out;
}

/** Invariant 3: exactly one ARM HSM per DedicatedHsm, created by exactly one PUT that made it, none failed, no strays. */
export function armViolations(world: World, expected: readonly string[]): string[] {
  const out: string[] = [];
  const names = world.arm.world.hsmNames();
  for (const n of expected) {
    const h = world.arm.world.hsm(n);
    if (!h) out.push(`ARM: no HSM ${n}`);
    else if (h.provisioningState !== 'Succeeded') out.push(`ARM: HSM ${n} is ${h.provisioningState}`);
    const creates = world.arm.requests.filter((r) => r.method === 'PUT' && r.status === 201 && r.path.toLowerCase().endsWith(`/dedicatedhsms/${n.toLowerCase()}`)).length;
    if (creates !== 1) out.push(`ARM: HSM ${n} created by ${creates} PUTs, expected 1`);
  }
  for (const n of names) if (!expected.includes(n)) out.push(`ARM: unexpected HSM ${n}`);
  return out;
}

/** All accepted HSM PUTs (201 create or 200 rerun) per name. */
export function armPuts(world: World, name: string): number {
  return world.arm.requests.filter((r) => r.method === 'PUT' && r.status < 300 && r.path.toLowerCase().endsWith(`/dedicatedhsms/${name.toLowerCase()}`)).length;
}

/**
 * No duplicate client registrations: every appliance holds exactly the expected clients (name -> partitions), each
 * registered by one `client register` (a repeated register — even a refused one — means two actors or a lost
 * record), and no partition assignment sent twice.
 */
export function registrationViolations(world: World, expected: ReadonlyMap<string, ReadonlyMap<string, readonly string[]>>): string[] {
  const out: string[] = [];
  for (const [hsm, sim] of world.appliances) {
    const want = expected.get(hsm) ?? new Map<string, readonly string[]>();
    const have = sim.state.clients;
    for (const [client, parts] of want) {
      const c = have.get(client);
      if (!c) out.push(`${hsm}: client ${client} not registered`);
      else if ([...c.partitions].sort().join(',') !== [...parts].sort().join(',')) out.push(`${hsm}: client ${client} has partitions [${c.partitions.join(',')}], expected [${parts.join(',')}]`);
    }
    for (const client of have.keys()) if (!want.has(client)) out.push(`${hsm}: unexpected client ${client}`);
    const registers = sim.counters.commands.byName['client register'] ?? 0;
    if (registers !== want.size) out.push(`${hsm}: ${registers} client register command(s) for ${want.size} client(s)`);
    const assigns = sim.counters.commands.byName['client assignPartition'] ?? 0;
    const assignments = [...want.values()].reduce((n, p) => n + p.length, 0);
    if (assigns !== assignments) out.push(`${hsm}: ${assigns} client assignPartition command(s) for ${assignments} assignment(s)`);
    const deletes = sim.counters.commands.byName['client delete'] ?? 0;
    if (deletes !== 0) out.push(`${hsm}: ${deletes} client delete command(s), expected none`);
  }
  return out;
}

/** HA groups on the LunaCM host: exactly the expected groups with their members, each created and joined once. */
export function haGroupViolations(world: World, expected: ReadonlyMap<string, readonly string[]>): string[] {
  const out: string[] = [];
  const groups = world.lunacm.state.groups;
  let members = 0;
  for (const [label, serials] of expected) {
    members += serials.length - 1;
    const g = groups.get(label);
    if (!g) out.push(`LunaCM: no group ${label}`);
    else if (g.members.map((m) => m.serial).sort().join(',') !== [...serials].sort().join(',')) out.push(`LunaCM: group ${label} has members ${g.members.map((m) => m.serial).join(',')}, expected ${serials.join(',')}`);
  }
  for (const label of groups.keys()) if (!expected.has(label)) out.push(`LunaCM: unexpected group ${label}`);
  const c = world.lunacm.counters.commands.byName;
  const creates = c['hagroup creategroup'] ?? 0;
  const adds = c['hagroup addmember'] ?? 0;
  // A command the operator was killed in before it typed the group password at LunaCM's prompt ran nothing (LunaCM
  // ends it: "No password was entered"); every other one must have made exactly one group or member.
  const abandoned = world.lunacm.counters.groupPassword.unanswered;
  if (creates < expected.size || adds < members || creates + adds - abandoned !== expected.size + members) {
    out.push(`LunaCM: ${creates} creategroup and ${adds} addmember command(s), ${abandoned} abandoned at the password prompt, for ${expected.size} group(s) and ${members} added member(s)`);
  }
  if ((c['hagroup deletegroup'] ?? 0) + (c['hagroup removemember'] ?? 0) !== 0) out.push('LunaCM: a group or member was removed');
  return out;
}

export interface Text {
  where: string;
  text: string;
}

/** Invariant 4: where any planted secret value occurs in the texts (logs, Events, status, error messages). */
export function leaks(planted: readonly PlantedSecret[], texts: readonly Text[]): string[] {
  const out: string[] = [];
  for (const p of planted) {
    for (const t of texts) {
      const i = t.text.indexOf(p.value);
      if (i >= 0) out.push(`${p.kind} of ${p.secret} in ${t.where}: …${t.text.slice(Math.max(0, i - 80), i)}<SECRET>…`);
    }
  }
  return out;
}

/** The texts a scan covers: Events (reason + note), every object's status (JSON), log and stderr texts. */
export function scanTexts(o: { events: EventObj[]; objects: KubeObj[]; logs: Text[] }): Text[] {
  return [
    ...o.events.map((e) => ({ where: `Event ${e.regarding?.kind ?? ''}/${e.regarding?.name ?? ''} ${e.reason ?? ''}`, text: `${e.reason ?? ''} ${e.note ?? ''}` })),
    ...o.objects.map((x) => ({ where: `${x.kind ?? ''}/${x.metadata.name} status`, text: JSON.stringify(x.status ?? {}) })),
    ...o.logs,
  ];
}

/** A small seeded PRNG (mulberry32): the same seed gives the same kill points. */
export function seeded(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export interface CommandRecord {
  at: number;
  device: string;
  command: string;
}

/**
 * A time-stamped log of the commands the simulators count (they keep counts only): wraps their per-name counters
 * so every increment is also recorded. For diagnosis: which command came when, next to kills and takeovers.
 */
export function recordCommands(world: World): CommandRecord[] {
  const log: CommandRecord[] = [];
  const wrap = (device: string, counters: { byName: Record<string, number> }): void => {
    counters.byName = new Proxy(counters.byName, {
      set(target, prop, value: number) {
        if (typeof prop === 'string') log.push({ at: Date.now(), device, command: prop });
        target[prop as string] = value;
        return true;
      },
    });
  };
  for (const [name, sim] of world.appliances) {
    wrap(name, sim.counters.commands);
    // Registrations that took effect (a refused `client register` is counted above but changes nothing).
    const clients = sim.state.clients;
    sim.state.clients = new (class extends Map<string, SimClient> {
      override set(k: string, v: SimClient): this {
        log.push({ at: Date.now(), device: name, command: `registered ${k}` });
        return super.set(k, v);
      }
      override delete(k: string): boolean {
        log.push({ at: Date.now(), device: name, command: `unregistered ${k}` });
        return super.delete(k);
      }
    })(clients);
  }
  wrap('lunacm', world.lunacm.counters.commands);
  return log;
}

/** The ARM requests matching `pathIncludes` (or all), one line each, relative to the first: for failure messages. */
export function armTrace(world: World, pathIncludes?: RegExp): string {
  const reqs = world.arm.requests.filter((r) => !pathIncludes || pathIncludes.test(r.path));
  const t0 = reqs[0]?.time ?? 0;
  return reqs.map((r) => `+${r.time - t0} ${r.method} ${r.path.replace(/^.*\/providers\//, '')} ${r.status}`).join('\n');
}
