/**
 * The manifests `plan -f` reads, as a GitOps repository holds them: YAML files (several documents each), JSON files,
 * and directories walked recursively (sorted, so a plan's order is stable). `kind: List` is expanded.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { isAbsolute, join, relative } from 'node:path';
import { parseAllDocuments } from 'yaml';

export interface Manifest {
  apiVersion: string;
  kind: string;
  metadata: { name?: string; namespace?: string; labels?: Record<string, string>; annotations?: Record<string, string> };
  [k: string]: unknown;
}

export interface SourcedManifest {
  /** `file` or `file#n` (n: the document's position in a multi-document file, from 1). */
  source: string;
  manifest: Manifest;
}

/** A manifest file that cannot be read or parsed. */
export class ManifestError extends Error {
  override readonly name = 'ManifestError';
}

const MANIFEST_FILE = /\.(ya?ml|json)$/i;

function filesUnder(path: string): string[] {
  let st;
  try {
    st = statSync(path);
  } catch {
    throw new ManifestError(`${path} does not exist`);
  }
  if (!st.isDirectory()) return [path];
  return readdirSync(path, { withFileTypes: true })
    .filter((e) => !e.name.startsWith('.'))
    .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))
    .flatMap((e) => (e.isDirectory() ? filesUnder(join(path, e.name)) : MANIFEST_FILE.test(e.name) ? [join(path, e.name)] : []));
}

function isManifest(v: unknown): v is Manifest {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) return false;
  const o = v as Record<string, unknown>;
  return typeof o.apiVersion === 'string' && typeof o.kind === 'string' && (o.metadata === undefined || (typeof o.metadata === 'object' && o.metadata !== null));
}

/** Every object in the files and directories named, in order. */
export function readManifests(paths: readonly string[], cwd = process.cwd()): SourcedManifest[] {
  const out: SourcedManifest[] = [];
  for (const p of paths) {
    for (const file of filesUnder(p)) {
      let text: string;
      try {
        text = readFileSync(file, 'utf8');
      } catch (e) {
        throw new ManifestError(`cannot read ${file}: ${(e as Error).message}`);
      }
      // Paths inside the working directory relative to it (a repository checkout), others as given.
      const rel = relative(cwd, file);
      const shown = rel && !rel.startsWith('..') && !isAbsolute(rel) ? rel : file;
      const docs = parseAllDocuments(text);
      const many = docs.length > 1;
      docs.forEach((doc, i) => {
        if (doc.errors.length) throw new ManifestError(`${shown}${many ? `#${i + 1}` : ''}: ${doc.errors[0]?.message ?? 'not YAML'}`);
        const value: unknown = doc.toJS();
        if (value === null || value === undefined) return;
        const source = many ? `${shown}#${i + 1}` : shown;
        if (!isManifest(value)) throw new ManifestError(`${source}: not a Kubernetes object (apiVersion and kind are required)`);
        const items = value.kind.endsWith('List') && Array.isArray(value.items) ? (value.items as unknown[]) : [value];
        items.forEach((item, j) => {
          if (!isManifest(item)) throw new ManifestError(`${source}: item ${j + 1} is not a Kubernetes object`);
          out.push({ source: items.length > 1 || item !== value ? `${source}[${j}]` : source, manifest: { ...item, metadata: { ...(item.metadata ?? {}) } } });
        });
      });
    }
  }
  return out;
}
