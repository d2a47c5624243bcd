/**
 * Typed builders of the lunash commands the operator sends, each bound to its parser. Arguments are
 * validated before a line exists, so nothing unexpected can reach the appliance shell.
 * `hsm login` is deliberately absent: it lives in zeroize.ts, the one confirmed destructive path.
 */
import { validFileName, validHostname, validIp, validName } from './args.js';
import type { CommandOutcome, LunaCommand } from './command.js';
import { LunaCommandError, LunaParseError } from './errors.js';
import { parseClientFingerprint, parseClientList, parseClientShow, type ClientInfo } from './parse/clients.js';
import { parseHsmShow, type HsmShow } from './parse/hsm.js';
import { parseNtlsShow, type NtlsShow } from './parse/ntls.js';
import { checkLunash, excerpt, lunashResult } from './parse/output.js';
import { parsePackageList, type PackageList } from './parse/packages.js';
import { parsePartitionList, type PartitionInfo } from './parse/partitions.js';

function readOnly<T>(name: string, line: string, parse: (out: string) => T): LunaCommand<T> {
  return { tool: 'lunash', name, line, display: line, changesState: false, parse };
}

/**
 * A state-changing command; `tolerate` lists failure kinds that mean "already in the wanted state". Success needs
 * `'<name>' successful.` or `Command Result : 0`: anything else (cut off, undocumented) is refused, because whether
 * the change took effect would be a guess.
 */
function mutating(name: string, line: string, tolerate: readonly LunaCommandError['kind'][] = []): LunaCommand<CommandOutcome> {
  return {
    tool: 'lunash',
    name,
    line,
    display: line,
    changesState: true,
    parse: (out) => {
      try {
        const text = checkLunash(name, out);
        if (!/'[^'\n]+'\s+successful/i.test(text) && lunashResult(text)?.code !== 0) {
          throw new LunaParseError(name, `neither '${name}' successful nor a command result; it printed: "${excerpt(text)}"`);
        }
        return { changed: true };
      } catch (e) {
        if (e instanceof LunaCommandError && tolerate.includes(e.kind)) return { changed: false };
        throw e;
      }
    },
  };
}

export const hsmShow = (): LunaCommand<HsmShow> => readOnly('hsm show', 'hsm show', parseHsmShow);
export const packageList = (): LunaCommand<PackageList> => readOnly('package list', 'package list', parsePackageList);
export const partitionList = (): LunaCommand<PartitionInfo[]> => readOnly('partition list', 'partition list', parsePartitionList);
export const ntlsShow = (): LunaCommand<NtlsShow> => readOnly('ntls show', 'ntls show', parseNtlsShow);
export const clientList = (): LunaCommand<string[]> => readOnly('client list', 'client list', parseClientList);

export function clientShow(client: string): LunaCommand<ClientInfo> {
  return readOnly('client show', `client show -client ${validName('client name', client)}`, parseClientShow);
}

export function clientFingerprint(client: string): LunaCommand<string> {
  return readOnly('client fingerprint', `client fingerprint -client ${validName('client name', client)}`, parseClientFingerprint);
}

/** Registration identity: the uploaded certificate must be named `<hostname>.pem` or `<ip>.pem`. */
export type ClientIdentity = { hostname: string; ip?: undefined } | { ip: string; hostname?: undefined };

/** The file name `client register` expects for an identity. */
export function clientCertFileName(identity: ClientIdentity): string {
  return validFileName(identity.ip !== undefined ? `${validIp('client ip', identity.ip)}.pem` : `${validHostname('client hostname', identity.hostname)}.pem`);
}

export function clientRegister(client: string, identity: ClientIdentity): LunaCommand<CommandOutcome> {
  const id = identity.ip !== undefined ? `-ip ${validIp('client ip', identity.ip)}` : `-hostname ${validHostname('client hostname', identity.hostname)}`;
  return mutating('client register', `client register -client ${validName('client name', client)} ${id}`);
}

export function clientAssignPartition(client: string, partition: string): LunaCommand<CommandOutcome> {
  return mutating('client assignPartition', `client assignPartition -client ${validName('client name', client)} -partition ${validName('partition', partition)}`, ['already-assigned']);
}

export function clientRevokePartition(client: string, partition: string): LunaCommand<CommandOutcome> {
  return mutating('client revokePartition', `client revokePartition -client ${validName('client name', client)} -partition ${validName('partition', partition)}`, ['not-assigned']);
}

export function clientDelete(client: string): LunaCommand<CommandOutcome> {
  return mutating('client delete', `client delete -client ${validName('client name', client)} -force`, ['not-found']);
}

/** Replaces the appliance's NTLS server certificate: every client must fetch server.pem again. Tests only. */
export function sysconfRegenCert(): LunaCommand<CommandOutcome> {
  return mutating('sysconf regenCert', 'sysconf regenCert -force');
}

/** Every lunash command name that changes appliance state (scp uploads too). */
export const STATE_CHANGING_LUNASH = ['client register', 'client assignPartition', 'client revokePartition', 'client delete', 'sysconf regenCert', 'hsm login', 'scp upload'] as const;
