/**
 * What the image tier needs from the machine. It installs nothing itself: `.ci/run` installs the packages, and a
 * developer is told exactly which are missing.
 */
import { which } from './exec.js';

/** Command -> the Debian package that provides it. */
export const IMAGE_TIER_PACKAGES: Readonly<Record<string, string>> = {
  buildah: 'buildah',
  podman: 'podman',
  runc: 'runc',
  debootstrap: 'debootstrap',
};

/** The Debian packages whose commands are not on this machine. */
export function missingPackages(find: (command: string) => string | undefined = which): string[] {
  return [...new Set(Object.entries(IMAGE_TIER_PACKAGES).filter(([cmd]) => !find(cmd)).map(([, pkg]) => pkg))];
}

/** Why the tier cannot run here, or undefined when it can. */
export function prerequisiteProblem(find: (command: string) => string | undefined = which, uid: number | undefined = process.getuid?.()): string | undefined {
  const missing = missingPackages(find);
  const problems: string[] = [];
  if (missing.length) {
    problems.push(
      `missing Debian packages: ${missing.join(', ')}. Install them with: sudo apt-get install -y ${Object.values(IMAGE_TIER_PACKAGES).join(' ')}` +
        ' (.ci/run does this).',
    );
  }
  if (uid !== 0) problems.push('it runs buildah and podman as root (rootless podman is not set up here): sudo npm run test:image.');
  return problems.length ? `The image tier (npm run test:image) cannot run on this machine: ${problems.join(' ')}` : undefined;
}
