/**
 * The parsers over every documented output form kept in test/fixtures/luna/<command>/ (each folder's README names
 * the Thales page or public source; values are ours), with LF and CRLF line endings; the dialog drivers over the
 * dialog transcripts; and the simulators' renderers, which must print each form exactly.
 */
import { EventEmitter } from 'node:events';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import {
  LunaCommandError,
  LunaParseError,
  LunaRecognisedFailure,
  hsmLoginOutcome,
  lunacm,
  lunash,
  normalizeOutput,
  parseClientFingerprint,
  parseClientList,
  parseClientShow,
  parseHaGroupList,
  parseHsmShow,
  parseNtlsShow,
  parsePackageList,
  parsePartitionList,
  runDialog,
  trailingPrompt,
  type DialogPolicy,
  type SshChannel,
} from '../../../src/luna/index.js';
import {
  HSM_LOGIN_TEXT,
  renderClientFingerprint,
  renderClientList,
  renderClientShow,
  renderConfirmation,
  renderFailed,
  renderHsmShow,
  renderOk,
  renderPartitionList,
  renderShellError,
  type LunashForms,
  type PartitionRow,
} from '../../../src/sandbox/luna/lunash-shell.js';
import { LUNACM_MESSAGES, renderGroupBlock, renderListGroups, renderLunaCmError, renderLunaCmNotice, renderLunaCmOk, renderSyncPasswordPrompt, type ListGroupsForm } from '../../../src/sandbox/luna/lunacm-host.js';

const ROOT = fileURLToPath(new URL('../../fixtures/luna/', import.meta.url));

interface ErrorExpectation {
  class: 'LunaCommandError' | 'LunaRecognisedFailure' | 'LunaParseError';
  command?: string;
  code?: string;
  codeName?: string;
  details?: string[];
  kind?: string;
}

interface Case {
  versions: string;
  expect?: unknown;
  error?: ErrorExpectation;
  /** Dialogs: the prompt before each `<<answer: ...>>` marker. */
  prompts?: { kind: string; affirm?: string }[];
  outcome?: unknown;
  answer?: string;
  render?: unknown;
}

const PARSE: Record<string, (text: string) => unknown> = {
  'hsm-show': parseHsmShow,
  'partition-list': parsePartitionList,
  'client-list': parseClientList,
  'client-show': parseClientShow,
  'client-fingerprint': parseClientFingerprint,
  'client-register': lunash.clientRegister('app-east', { hostname: 'app-east.corp.example' }).parse,
  'client-assignPartition': lunash.clientAssignPartition('app-east', 'par-a').parse,
  'client-revokePartition': lunash.clientRevokePartition('app-east', 'par-a').parse,
  'client-delete': lunash.clientDelete('app-east').parse,
  'sysconf-regenCert': lunash.sysconfRegenCert().parse,
  'ntls-show': parseNtlsShow,
  'package-list': parsePackageList,
  'hagroup-listgroups': parseHaGroupList,
  'hagroup-addmember': lunacm.hagroupAddMember('ha-west', '1238700703302', 'pw').command.parse,
  'hagroup-creategroup': lunacm.hagroupCreateGroup('ha-west', '1238700703301', 'pw').command.parse,
  'hagroup-removemember': lunacm.hagroupRemoveMember('ha-west', '1238700703302').parse,
  'hagroup-deletegroup': lunacm.hagroupDeleteGroup('ha-west').parse,
  'hagroup-recover': lunacm.hagroupRecover('ha-west').parse,
  'hagroup-retry': lunacm.hagroupRetry(5).parse,
  'hagroup-interval': lunacm.hagroupInterval(120).parse,
  'hagroup-synchronize': lunacm.hagroupSynchronize('ha-west', true).parse,
};

/** Folders of dialog transcripts, and the policy the operator runs them under. */
const DIALOGS: Record<string, DialogPolicy> = {
  'hsm-login': { affirm: ['proceed'], password: 'deliberately-wrong' },
  'lunash-confirmation': {},
  'hagroup-listgroups': { skipPasswordPrompts: true },
};

const MARKER = /\n<<answer: ([^>]+)>>\n/;

/** The transcript's segments: what is printed before each answer, then what follows the last one. */
function segments(text: string): { parts: string[]; answers: string[] } {
  const split = text.split(MARKER);
  return { parts: split.filter((_, i) => i % 2 === 0), answers: split.filter((_, i) => i % 2 === 1) };
}

const crlf = (s: string): string => s.replace(/\n/g, '\r\n');

const folders = readdirSync(ROOT)
  .filter((f) => statSync(`${ROOT}${f}`).isDirectory())
  .sort();

function load(folder: string): { cases: Record<string, Case>; texts: Record<string, string> } {
  const cases = JSON.parse(readFileSync(`${ROOT}${folder}/cases.json`, 'utf8')) as Record<string, Case>;
  const texts: Record<string, string> = {};
  for (const f of readdirSync(`${ROOT}${folder}`).filter((n) => n.endsWith('.txt'))) texts[f.slice(0, -4)] = readFileSync(`${ROOT}${folder}/${f}`, 'utf8');
  return { cases, texts };
}

function caught(fn: () => unknown): unknown {
  try {
    fn();
  } catch (e) {
    return e;
  }
  return undefined;
}

function expectError(e: unknown, x: ErrorExpectation, where: string): void {
  const cls = { LunaCommandError, LunaRecognisedFailure, LunaParseError }[x.class];
  expect(e, where).toBeInstanceOf(cls);
  const fields: Record<string, unknown> = {};
  for (const k of ['command', 'code', 'codeName', 'details', 'kind'] as const) if (x[k] !== undefined) fields[k] = x[k];
  expect(e, where).toMatchObject(fields);
}

/** A stand-in exec channel: prints the transcript segment by segment, recording what the driver types. */
class FakeChannel extends EventEmitter {
  readonly stderr = new EventEmitter();
  readonly typed: string[] = [];
  ended = false;
  write(text: string): boolean {
    this.typed.push(text);
    return true;
  }
  end(text?: string): this {
    if (text) this.typed.push(text);
    this.ended = true;
    return this;
  }
}

describe('fixture folders', () => {
  it('every folder has a README, cases for exactly its outputs, and a parser or dialog driver', () => {
    expect(folders.length).toBeGreaterThan(20);
    for (const folder of folders) {
      expect(statSync(`${ROOT}${folder}/README.md`).isFile(), folder).toBe(true);
      const { cases, texts } = load(folder);
      expect(Object.keys(cases).sort(), folder).toEqual(Object.keys(texts).sort());
      expect(folder in PARSE || folder in DIALOGS, `${folder} has no parser`).toBe(true);
      for (const [name, c] of Object.entries(cases)) expect(c.versions, `${folder}/${name} says which versions`).toBeTruthy();
    }
  });
});

describe.each(folders)('%s', (folder) => {
  const { cases, texts } = load(folder);
  it.each(Object.keys(cases))('%s: parses (LF and CRLF) or is refused as documented', (name) => {
    const c = cases[name] as Case;
    const parse = PARSE[folder];
    if (!parse || (c.expect === undefined && c.error === undefined)) return;
    const output = segments(texts[name] ?? '').parts.join('\n');
    for (const variant of [output, crlf(output)]) {
      if (c.error) expectError(caught(() => parse(variant)), c.error, `${folder}/${name}`);
      else expect(parse(variant), `${folder}/${name}`).toEqual(c.expect);
    }
  });

  it.each(Object.keys(cases).filter((n) => cases[n]?.prompts))('%s: the dialog driver answers each prompt as the policy says', async (name) => {
    const c = cases[name] as Case;
    const policy = DIALOGS[folder] ?? {};
    const { parts, answers } = segments(texts[name] ?? '');
    const ch = new FakeChannel();
    const done = runDialog(ch as unknown as SshChannel, policy);
    for (const [i, part] of parts.entries()) {
      if (i < answers.length) expect(trailingPrompt(normalizeOutput(parts.slice(0, i + 1).join('')).slice(normalizeOutput(parts.slice(0, i).join('')).length)), `${name} prompt ${i}`).toMatchObject(c.prompts?.[i] ?? {});
      const before = ch.typed.length;
      ch.emit('data', Buffer.from(part));
      if (i < answers.length) expect(ch.typed.length, `${name}: answered prompt ${i}`).toBe(before + 1);
    }
    ch.emit('close');
    const t = await done;
    const expected = answers.map((a) => (a === 'password' ? '<password>' : a === 'empty' ? '<empty>' : a));
    expect(t.answered).toEqual(expected);
    if (c.outcome !== undefined) expect(hsmLoginOutcome(t.afterPassword)).toEqual(c.outcome);
    if (c.answer === 'quit') expect(t.refused).toMatch(/quit/);
    if (c.expect !== undefined && PARSE[folder]) expect(PARSE[folder]?.(t.output)).toEqual(c.expect);
    // The password is typed once, only under a policy that carries one; `proceed` only where affirmed.
    expect(ch.typed.filter((x) => x.includes('deliberately-wrong')).length).toBe(policy.password !== undefined ? 1 : 0);
    expect(ch.typed.filter((x) => /proceed/.test(x)).length).toBe(policy.affirm?.includes('proceed') ? answers.filter((a) => a === 'proceed').length : 0);
  });
});

/** The simulators print each documented form exactly. */
const RENDER: Record<string, (c: Case, name: string) => string | string[]> = {
  'hsm-show': (c) => {
    const x = c.expect as { softwareVersion: string; label?: string; serial: string; firmware: string; model: string; zeroized: boolean; soLoginAttemptsLeft?: number; partitions: { serial: string; label: string }[] };
    return renderHsmShow({ ...x, label: x.label ?? '', soAttemptsLeft: x.soLoginAttemptsLeft ?? 0 });
  },
  'partition-list': (c) => renderPartitionList(c.expect as PartitionRow[], c.render as LunashForms['partitionList']),
  'client-list': (c) => renderClientList(c.expect as string[]),
  'client-show': (c) => (c.error ? renderFailed(c.error.command ?? '', c.error.code ?? '', c.error.codeName ?? '', ...(c.error.details ?? [])) : renderClientShow(c.expect as { name: string; partitions: string[] })),
  'client-fingerprint': (c) => (c.error ? renderFailed(c.error.command ?? '', c.error.code ?? '', c.error.codeName ?? '', ...(c.error.details ?? [])) : renderClientFingerprint(c.expect as string)),
  'hsm-login': (c) => {
    const r = c.render as { form: LunashForms['hsmLogin']; attemptsLeft: number };
    const o = c.outcome as { code: string; codeName: string; threshold: boolean };
    const response = o.threshold
      ? renderFailed('hsm login', o.code, o.codeName, 'The HSM has been zeroized.')
      : renderFailed('hsm login', o.code, o.codeName, `Login failed. ${r.attemptsLeft - 1} attempts left before HSM zeroization.`);
    const prompt = r.attemptsLeft === 2 && r.form === 'luna6' ? HSM_LOGIN_TEXT.twoLeft + HSM_LOGIN_TEXT.passwordPrompt : HSM_LOGIN_TEXT.passwordPrompt;
    return r.attemptsLeft === 1 ? [HSM_LOGIN_TEXT.lastAttempt[r.form], `\n${HSM_LOGIN_TEXT.passwordPrompt}`, `\n\n${response}`] : [prompt, `\n\n${response}`];
  },
  'lunash-confirmation': (c) => [renderConfirmation((c.render as { caution: string }).caution), `\nCommand Aborted.\n\nCommand Result : 65535 (Luna Shell execution)\n`],
  'hagroup-listgroups': (c) => {
    const view = c.expect as Parameters<typeof renderListGroups>[0];
    const form = c.render as ListGroupsForm;
    if (form !== 'sync-password-prompt') return renderListGroups(view, form);
    return [view.groups.map((g) => renderSyncPasswordPrompt(g.label)).join(''), `\n\n${renderListGroups(view, 'with-settings')}`];
  },
};

function renderGeneric(c: Case): string | undefined {
  const r = c.render as Record<string, unknown> | undefined;
  if (!r || typeof r !== 'object') return undefined;
  if (Array.isArray(r.ok)) return renderOk(...(r.ok as [string, string?]));
  if (Array.isArray(r.failed)) return renderFailed(...(r.failed as [string, string, string, ...string[]]));
  if (typeof r.shellError === 'string') return renderShellError(r.shellError);
  if (Array.isArray(r.error)) return renderLunaCmError(...(r.error as [string, number, string]));
  if (Array.isArray(r.notice)) return renderLunaCmNotice(...(r.notice as [string, number, string]));
  if (Array.isArray(r.message)) {
    const [key, ...args] = r.message as [keyof typeof LUNACM_MESSAGES, ...string[]];
    // `added` and `created` end with the group's block, rendered from the view in `group`.
    if (r.group !== undefined) args.push(renderGroupBlock(r.group as Parameters<typeof renderGroupBlock>[0]));
    return renderLunaCmOk((LUNACM_MESSAGES[key] as (...a: string[]) => string)(...args));
  }
  return undefined;
}

describe('the simulators print each documented form', () => {
  const rendered = folders.flatMap((folder) => {
    const { cases } = load(folder);
    return Object.keys(cases)
      .filter((n) => cases[n]?.render !== undefined)
      .map((n) => [folder, n] as const);
  });
  it('covers most fixtures', () => expect(rendered.length).toBeGreaterThan(30));
  it.each(rendered)('%s/%s', (folder, name) => {
    const { cases, texts } = load(folder);
    const c = cases[name] as Case;
    const out = RENDER[folder]?.(c, name) ?? renderGeneric(c);
    expect(out, 'no renderer').toBeDefined();
    const want = segments(texts[name] ?? '').parts;
    expect(Array.isArray(out) ? out : [out]).toEqual(want);
  });
});
