// The part of `kustomize build` that deploy/kubernetes uses, so the unit tests can check what
// `kubectl apply -k` would send without a kubectl: resources (files and directories), patches
// (strategic merge, matched by kind and name), namespace and images. Any other kustomization
// field is refused rather than ignored, so a manifest cannot rely on something this does not do.
import { existsSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { parseAllDocuments, parse as parseYaml } from 'yaml';

export interface K8sObject {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; labels?: Record<string, string>; annotations?: Record<string, string> };
  [field: string]: unknown;
}

interface Kustomization {
  apiVersion?: string;
  kind?: string;
  namespace?: string;
  resources?: string[];
  patches?: { path: string }[];
  images?: { name: string; newName?: string; newTag?: string }[];
}

const KNOWN = new Set(['apiVersion', 'kind', 'namespace', 'resources', 'patches', 'images']);
const CLUSTER_SCOPED = new Set(['Namespace']);

export interface Build {
  objects: K8sObject[];
  /** Every file read, kustomization.yaml files included. */
  files: string[];
}

/** Renders the kustomization in `dir`, throwing on a missing file, an unknown field or a patch that matches nothing. */
export function kustomize(dir: string): Build {
  const file = join(dir, 'kustomization.yaml');
  if (!existsSync(file)) throw new Error(`${dir}: no kustomization.yaml`);
  const k = parseYaml(readFileSync(file, 'utf8')) as Kustomization;
  const unknown = Object.keys(k).filter((key) => !KNOWN.has(key));
  if (unknown.length > 0) throw new Error(`${file}: fields this renderer does not apply: ${unknown.join(', ')}`);
  const files = [file];
  const objects: K8sObject[] = [];
  for (const resource of k.resources ?? []) {
    const path = join(dir, resource);
    if (!existsSync(path)) throw new Error(`${file}: resource ${resource} does not exist`);
    if (statSync(path).isDirectory()) {
      const nested = kustomize(path);
      objects.push(...nested.objects);
      files.push(...nested.files);
    } else {
      objects.push(...readObjects(path));
      files.push(path);
    }
  }
  for (const { path: patchPath } of k.patches ?? []) {
    const path = join(dir, patchPath);
    if (!existsSync(path)) throw new Error(`${file}: patch ${patchPath} does not exist`);
    files.push(path);
    for (const patch of readObjects(path)) {
      const target = objects.find((o) => o.kind === patch.kind && o.apiVersion === patch.apiVersion && o.metadata.name === patch.metadata.name);
      if (!target) throw new Error(`${path}: patch for ${patch.kind}/${patch.metadata.name} matches no resource`);
      strategicMerge(target, patch);
    }
  }
  if (k.namespace) for (const o of objects) if (!CLUSTER_SCOPED.has(o.kind)) o.metadata.namespace = k.namespace;
  for (const image of k.images ?? []) {
    for (const container of containersOf(objects)) {
      if (container.image === image.name || container.image.startsWith(`${image.name}:`)) {
        container.image = `${image.newName ?? image.name}${image.newTag ? `:${image.newTag}` : ''}`;
      }
    }
  }
  return { objects, files };
}

export function containersOf(objects: K8sObject[]): { name: string; image: string; [field: string]: unknown }[] {
  return objects.flatMap((o) => ((o.spec as any)?.template?.spec?.containers ?? []) as { name: string; image: string }[]);
}

function readObjects(path: string): K8sObject[] {
  return parseAllDocuments(readFileSync(path, 'utf8')).map((doc) => {
    if (doc.errors.length > 0) throw new Error(`${path}: ${doc.errors[0]!.message}`);
    return doc.toJS() as K8sObject;
  });
}

/**
 * Strategic merge as Kubernetes does it for the fields patched here: maps merge key by key, null
 * deletes, lists of objects that all have a `name` merge by name, other lists are replaced.
 */
function strategicMerge(target: Record<string, unknown>, patch: Record<string, unknown>): void {
  for (const [key, value] of Object.entries(patch)) {
    const current = target[key];
    if (value === null) Reflect.deleteProperty(target, key);
    else if (isMap(value) && isMap(current)) strategicMerge(current, value);
    else if (Array.isArray(value) && Array.isArray(current) && [...value, ...current].every((item) => isMap(item) && typeof item.name === 'string')) {
      for (const item of value as Record<string, unknown>[]) {
        const existing = (current as Record<string, unknown>[]).find((c) => c.name === item.name);
        if (existing) strategicMerge(existing, item);
        else current.push(item);
      }
    } else target[key] = value;
  }
}

function isMap(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
