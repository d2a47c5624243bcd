import { describe, expect, it } from 'vitest';
import {
  LunaCommandError,
  LunaError,
  LunaParseError,
  checkLunaCm,
  checkLunash,
  lunacm,
  lunash,
  parseClientFingerprint,
  parseClientList,
  parseClientShow,
  parseHaGroupList,
  parseHsmShow,
  parseNtlsShow,
  parsePackageList,
  parsePartitionList,
} from '../../../src/luna/index.js';
import * as S from './samples.js';

const crlf = (s: string): string => s.replace(/\n/g, '\r\n');

describe('lunash parsers over the reference samples', () => {
  it('hsm show: zeroized and initialized, with CRLF, banner and without the result line', () => {
    for (const variant of [S.HSM_SHOW_ZEROIZED, crlf(S.HSM_SHOW_ZEROIZED), S.BANNER + S.HSM_SHOW_ZEROIZED, S.HSM_SHOW_ZEROIZED.replace(/Command Result.*\n/, '')]) {
      const z = parseHsmShow(variant);
      expect(z).toMatchObject({ serial: '572413', softwareVersion: '7.2.0-220', firmware: '7.0.3', model: 'Luna K7', zeroized: true, partitions: [] });
      expect(z.label).toBeUndefined();
      expect(z.soLoginAttemptsLeft).toBeUndefined();
    }
    const i = parseHsmShow(S.HSM_SHOW_INITIALIZED);
    expect(i).toMatchObject({ label: 'hsm1', zeroized: false, soLoginAttemptsLeft: 3, adminLoggedIn: false, partitions: [{ serial: '1582775433934', label: 'par0' }] });
    expect(parseHsmShow(S.HSM_SHOW_INITIALIZED.replace('3 before', '1 before')).soLoginAttemptsLeft).toBe(1);
  });

  it('hsm show: a truncated output without the attempts line says "unknown", not "not zeroized"', () => {
    const cut = S.HSM_SHOW_INITIALIZED.slice(0, S.HSM_SHOW_INITIALIZED.indexOf('HSM Model'));
    expect(parseHsmShow(cut).zeroized).toBeUndefined();
    expect(() => parseHsmShow('   Appliance Details:\n   ==================\n')).toThrow(LunaParseError);
  });

  it('a failure block becomes a LunaCommandError with the Luna code and message', () => {
    for (const variant of [S.FAILURE, crlf(S.FAILURE), S.FAILURE.replace(/Command Result.*\n/, '')]) {
      const e = (() => {
        try {
          parseClientShow(variant);
        } catch (err) {
          return err;
        }
        return undefined;
      })();
      expect(e).toBeInstanceOf(LunaCommandError);
      const ce = e as LunaCommandError;
      expect(ce.command).toBe('client show');
      expect(ce.code).toBe('C000040A');
      expect(ce.codeName).toBe('RC_OBJECT_NOT_IN_LIST');
      expect(ce.details).toEqual(['Specified client does not exist.']);
      expect(ce.kind).toBe('not-found');
    }
    expect(() => checkLunash('x', 'something\n\nCommand Result : 65535 (Luna Shell execution)')).toThrow(LunaCommandError);
  });

  it('partition list (7.x table), empty, and truncated', () => {
    expect(parsePartitionList(S.PARTITION_LIST)).toEqual([{ serial: '1582775433934', label: 'par0', version: '0', objects: 0, total: 648381, used: 0, free: 648381 }]);
    expect(parsePartitionList(crlf(S.PARTITION_LIST))).toHaveLength(1);
    expect(parsePartitionList('   There are no partitions.\n')).toEqual([]);
    expect(parsePartitionList(S.PARTITION_LIST.split('\n').slice(0, 3).join('\n'))).toEqual([]);
    expect(() => parsePartitionList('')).toThrow(LunaParseError);
  });

  it('client list, none, and whitespace variants', () => {
    expect(parseClientList(S.CLIENT_LIST)).toEqual(['app-a', 'app-b']);
    expect(parseClientList(S.CLIENT_LIST_NONE)).toEqual([]);
    expect(parseClientList('registered   client 1 :   app-a   \r\n')).toEqual(['app-a']);
    expect(() => parseClientList('')).toThrow(LunaParseError);
  });

  it('client show with partitions, <none>, and an IP registration', () => {
    expect(parseClientShow(S.CLIENT_SHOW)).toEqual({ name: 'app-a', hostname: 'app-a.example.internal', partitions: ['par0', 'par1'] });
    expect(parseClientShow(S.CLIENT_SHOW_NONE)).toEqual({ name: 'app-b', hostname: 'app-b.example.internal', partitions: [] });
    expect(parseClientShow('ClientID: c\nIP Address: 10.0.0.5\nPartitions: par0, par1\n')).toEqual({ name: 'c', ip: '10.0.0.5', partitions: ['par0', 'par1'] });
    expect(() => parseClientShow('Hostname: x\n')).toThrow(LunaParseError);
  });

  it('client fingerprint of 16, 20 and 32 bytes; other lengths are parse errors', () => {
    expect(parseClientFingerprint(S.FINGERPRINT_16)).toBe('D9:9E:25:B3:A9:68:06:50:8F:C4:90:FC:E5:50:E2:BC');
    expect(parseClientFingerprint(S.FINGERPRINT_20).split(':')).toHaveLength(20);
    expect(parseClientFingerprint(S.FINGERPRINT_32).split(':')).toHaveLength(32);
    expect(parseClientFingerprint('Certificate fingerprint: d99e25b3a96806508fc490fce550e2bc')).toBe('D9:9E:25:B3:A9:68:06:50:8F:C4:90:FC:E5:50:E2:BC');
    expect(() => parseClientFingerprint('Certificate fingerprint: D9:9E:25')).toThrow(LunaParseError);
    expect(() => parseClientFingerprint('nothing here')).toThrow(LunaParseError);
  });

  it('state-changing commands: success, and the idempotent failures they tolerate', () => {
    expect(lunash.clientRegister('app-a', { hostname: 'app-a.example.internal' }).parse(S.REGISTER_OK)).toEqual({ changed: true });
    expect(lunash.clientRegister('app-a', { hostname: 'h' }).parse(`'client register' successful.`)).toEqual({ changed: true });
    expect(lunash.clientAssignPartition('app-a', 'par0').parse(S.ASSIGN_ALREADY)).toEqual({ changed: false });
    expect(lunash.clientRevokePartition('app-a', 'par0').parse(S.REVOKE_NOT_ASSIGNED)).toEqual({ changed: false });
    expect(lunash.clientDelete('app-a').parse(S.FAILURE)).toEqual({ changed: false });
    expect(() => lunash.clientRegister('app-a', { hostname: 'h' }).parse(S.FAILURE)).toThrow(LunaCommandError);
  });

  it('ntls show and package list (table and rpm layouts), reboot patch present or missing', () => {
    expect(parseNtlsShow(S.NTLS_SHOW)).toEqual({ boundDevice: 'eth0', ipAddress: '10.0.2.4' });
    expect(parsePackageList(S.PACKAGE_TABLE)).toMatchObject({ rebootPatchInstalled: true, packages: [{ name: 'lunasa', version: '7.2.0', release: '220' }, { name: 'lunasa-reboot-patch-3' }] });
    expect(parsePackageList(S.PACKAGE_RPM)).toMatchObject({ rebootPatchInstalled: true, packages: [{ name: 'lunasa', version: '7.2.0' }, { name: 'lunasa-reboot-patch-3', version: '1.0' }] });
    expect(parsePackageList(S.PACKAGE_TABLE.replace(/lunasa-reboot.*\n/, '')).rebootPatchInstalled).toBe(false);
    expect(parsePackageList('lunasa-reboot-patch-30 1.0 1\nCommand Result : 0 (Success)').rebootPatchInstalled).toBe(false);
  });
});

describe('names with spaces and output the parsers do not understand (issue 18)', () => {
  it('client names and partition labels are the rest of their line, in every parser that reads them', () => {
    expect(parseClientList('registered client 1: payments web 01\nregistered client 2: app-b\n')).toEqual(['payments web 01', 'app-b']);
    expect(parseClientShow('ClientID:     payments web 01\nHostname:     pay01.corp.example\nPartitions:   team a keys, par1\n')).toEqual({
      name: 'payments web 01',
      hostname: 'pay01.corp.example',
      partitions: ['team a keys', 'par1'],
    });
    expect(parseHsmShow(S.HSM_SHOW_INITIALIZED.replace('Name: par0', 'Name: team a keys')).partitions).toEqual([{ serial: '1582775433934', label: 'team a keys' }]);
    const row = S.LISTGROUPS.replace('                              par0     alive', '                       team a keys     alive');
    expect(parseHaGroupList(row).groups[0]?.members[0]).toEqual({ serial: '154438865287', label: 'team a keys', status: 'alive' });
  });

  it('refuses, with what it saw, lines and tables it cannot read instead of skipping or shifting them', () => {
    const refusal = (fn: () => unknown): string => {
      try {
        fn();
      } catch (e) {
        expect(e).toBeInstanceOf(LunaParseError);
        return (e as Error).message;
      }
      throw new Error('expected a LunaParseError');
    };
    expect(refusal(() => parseClientList('registered client 1: app-a\nclient 2 -> app-b\n'))).toContain('client 2 -> app-b');
    expect(refusal(() => parsePartitionList('Slot   Label\n====   =====\n1      par0\n'))).toMatch(/no Partition and Name columns/);
    expect(refusal(() => parsePartitionList(S.PARTITION_LIST.replace('648381        0', '648381      n/a')))).toMatch(/used of partition 1582775433934 is not a number: "n\/a"/);
    expect(refusal(() => parseHaGroupList(S.LISTGROUPS.replace('------------      down', '------------  4')))).toMatch(/member row of group myHAgroup/);
    expect(refusal(() => lunash.clientRegister('a', { hostname: 'h' }).parse(''))).toMatch(/neither 'client register' successful nor a command result/);
    expect(refusal(() => lunacm.hagroupRecover('g').parse('Member 154438865287 recovered.\n'))).toMatch(/no 'Command Result' line.*Member 154438865287 recovered/);
  });
});

describe('LunaCM parsers', () => {
  it('hagroup listgroups: settings, group, members (alive and down)', () => {
    const l = parseHaGroupList(S.LISTGROUPS);
    expect(l.settings).toEqual({ autoRecoveryEnabled: true, recoveryMode: 'activeEnhanced', maxRetries: 500, intervalSeconds: 60 });
    expect(l.groups).toHaveLength(1);
    expect(l.groups[0]).toEqual({
      label: 'myHAgroup',
      number: '1154438865287',
      slotId: 5,
      synchronization: true,
      memberSerials: ['154438865287', '1238700701509'],
      needsSync: false,
      standbyMembers: [],
      members: [
        { serial: '154438865287', label: 'par0', status: 'alive' },
        { serial: '1238700701509', status: 'down' },
      ],
      cloningConflicts: [],
    });
    expect(parseHaGroupList(crlf(S.LISTGROUPS)).groups[0]?.members).toHaveLength(2);
  });

  it('the cloning-domain warning (two spaces after "fail.") is attached to its group', () => {
    const l = parseHaGroupList(S.ALL_SAMPLES.LISTGROUPS_WARNING ?? '');
    expect(l.groups[0]?.cloningConflicts).toEqual([{ slotA: 0, slotB: 1 }]);
    expect(lunacm.hagroupAddMember('g', '1', 'pw').command.parse(`Member added.\n\n${S.CLONING_WARNING}\n\nCommand Result : No Error\n`).warnings).toEqual([S.CLONING_WARNING]);
  });

  it('LunaCM results: No Error, and a CKR code as a credential rejection', () => {
    expect(checkLunaCm('hagroup retry', S.LUNACM_OK)).toContain('retry count');
    try {
      lunacm.hagroupAddMember('g', '154438865287', 'pw').command.parse(S.LUNACM_PIN_INCORRECT);
      expect.unreachable();
    } catch (e) {
      expect(e).toBeInstanceOf(LunaCommandError);
      expect(e).toMatchObject({ code: '0x000000a0', codeName: 'CKR_PIN_INCORRECT', kind: 'credential-rejected' });
    }
    expect(parseHaGroupList('There are no HA groups.\n\nCommand Result : No Error').groups).toEqual([]);
    expect(() => parseHaGroupList('')).toThrow(LunaParseError);
  });
});

/** mulberry32: a small seeded PRNG so a failing fuzz case reproduces. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const JUNK = ['\r', '\n', ':', '"', "'", '(', ')', '<none>', 'Error:  ', 'Command Result : ', '0x', '=', '-', ' ', '\t', 'HA Group Label:', 'Partition', 'registered client 9:', '\u0000', 'é', 'Warning: Synchronize may fail.'];

function mutate(sample: string, rnd: () => number): string {
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rnd() * xs.length)] as T;
  let s = sample;
  const ops = 1 + Math.floor(rnd() * 4);
  for (let i = 0; i < ops; i++) {
    const at = Math.floor(rnd() * (s.length + 1));
    switch (Math.floor(rnd() * 7)) {
      case 0:
        s = s.slice(0, at); // truncation
        break;
      case 1:
        s = s.slice(0, at) + s.slice(at + Math.floor(rnd() * 40));
        break;
      case 2:
        s = s.slice(0, at) + pick(JUNK) + s.slice(at);
        break;
      case 3: {
        const lines = s.split('\n');
        const j = Math.floor(rnd() * lines.length);
        lines.splice(j, 0, lines[Math.floor(rnd() * lines.length)] ?? '');
        s = lines.join('\n');
        break;
      }
      case 4:
        s = s.split('\n').sort(() => rnd() - 0.5).join('\n');
        break;
      case 5:
        s = crlf(s);
        break;
      default:
        s = s.replace(/\d/g, (d) => (rnd() < 0.2 ? String((Number(d) + 3) % 10) : d));
    }
  }
  return s;
}

const PARSERS: Record<string, (s: string) => unknown> = {
  hsmShow: parseHsmShow,
  partitionList: parsePartitionList,
  clientList: parseClientList,
  clientShow: parseClientShow,
  clientFingerprint: parseClientFingerprint,
  ntlsShow: parseNtlsShow,
  packageList: parsePackageList,
  haGroupList: parseHaGroupList,
  register: lunash.clientRegister('a', { hostname: 'h' }).parse,
  assign: lunash.clientAssignPartition('a', 'p').parse,
  lunacmChange: lunacm.hagroupRecover('g').parse,
};

describe('parser fuzz (seeded)', () => {
  it('mutated and truncated samples give a typed result or a typed error, never a crash', () => {
    const rnd = prng(0x5eed);
    let results = 0;
    let errors = 0;
    for (const [sampleName, sample] of Object.entries(S.ALL_SAMPLES)) {
      for (let n = 0; n < 150; n++) {
        const input = mutate(sample, rnd);
        for (const [parserName, parse] of Object.entries(PARSERS)) {
          try {
            const out = parse(input);
            expect(['object', 'string'], `${parserName} on ${sampleName} #${n}`).toContain(typeof out);
            results++;
          } catch (e) {
            if (!(e instanceof LunaError)) throw new Error(`${parserName} crashed on mutated ${sampleName} #${n}: ${String(e)}\n${JSON.stringify(input)}`, { cause: e });
            errors++;
          }
        }
      }
    }
    // Both outcomes occur: the fuzz does exercise the error paths and the success paths.
    expect(results).toBeGreaterThan(1000);
    expect(errors).toBeGreaterThan(1000);
  });
});
