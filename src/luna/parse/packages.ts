/** `package list`: installed packages, and whether the KB0019789 reboot patch is among them. */
import { LunaParseError } from '../errors.js';
import { checkLunash, lunashResult } from './output.js';

/** Thales KB0019789: the fix for appliances hanging on reboot. */
export const REBOOT_PATCH_PACKAGE = 'lunasa-reboot-patch-3';

export interface InstalledPackage {
  name: string;
  version?: string;
  release?: string;
}

export interface PackageList {
  packages: InstalledPackage[];
  rebootPatchInstalled: boolean;
}

const PKG_NAME = /^[A-Za-z0-9][A-Za-z0-9._+-]*$/;
const RPM = /^(.+?)-(\d[^-]*)-([^-]+?)(?:\.(x86_64|noarch|i686|aarch64))?$/;

/** Accepts both a `name version release` table and rpm-style `name-version-release.arch` lines. */
export function parsePackageList(raw: string | Buffer): PackageList {
  const text = checkLunash('package list', raw);
  const packages: InstalledPackage[] = [];
  for (const line of text.split('\n')) {
    const trimmed = line.trim();
    if (!trimmed || /^[=\-\s]+$/.test(trimmed) || /command result|^name\b|package name|installed packages|^luna .*shell|copyright/i.test(trimmed)) continue;
    const tokens = trimmed.split(/\s+/);
    const [first, second, third] = tokens;
    if (first === undefined || !PKG_NAME.test(first)) continue;
    if (second !== undefined && /^\d/.test(second)) {
      packages.push({ name: first, version: second, ...(third !== undefined && /^[\w.]+$/.test(third) ? { release: third } : {}) });
    } else if (tokens.length === 1) {
      const rpm = RPM.exec(first);
      packages.push(rpm?.[1] && rpm[2] ? { name: rpm[1], version: rpm[2], ...(rpm[3] ? { release: rpm[3] } : {}) } : { name: first });
    }
  }
  if (packages.length === 0 && lunashResult(text) === undefined) throw new LunaParseError('package list', 'no packages and no command result');
  return { packages, rebootPatchInstalled: rebootPatchInstalled(packages) };
}

export function rebootPatchInstalled(packages: readonly InstalledPackage[]): boolean {
  return packages.some((p) => p.name === REBOOT_PATCH_PACKAGE || p.name.startsWith(`${REBOOT_PATCH_PACKAGE}-`) || p.name.startsWith(`${REBOOT_PATCH_PACKAGE}.`));
}
