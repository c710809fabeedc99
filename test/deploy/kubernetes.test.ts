// deploy/kubernetes as `kubectl apply -k` would send it: every object valid against the
// Kubernetes API schemas (kubernetes-models), every referenced file present, and the ports,
// probe paths, image, user and config agreeing with the server and the Dockerfile.
import { mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Deployment } from 'kubernetes-models/apps/v1';
import { PodDisruptionBudget } from 'kubernetes-models/policy/v1';
import { ConfigMap, Namespace, PersistentVolumeClaim, Secret, Service } from 'kubernetes-models/v1';
import { resolveRoute } from '../api/resolve-route.js';
import { generateClientConfig, parseMirrorUrl, parseUpstreams } from '../../src/client-config/index.js';
import { loadConfig, type Config } from '../../src/config.js';
import { containersOf, kustomize, type K8sObject } from './kustomize.js';

const REPO = fileURLToPath(new URL('../../', import.meta.url));
const K8S = join(REPO, 'deploy/kubernetes');
const VARIANTS = [
  ['default (kubectl apply -k deploy/kubernetes)', K8S],
  ['filesystem', join(K8S, 'overlays/filesystem')],
  ['s3', join(K8S, 'overlays/s3')],
] as const;

const MODELS: Record<string, new (data: any) => { validate(): void }> = {
  'v1/Namespace': Namespace,
  'v1/ConfigMap': ConfigMap,
  'v1/Service': Service,
  'v1/Secret': Secret,
  'v1/PersistentVolumeClaim': PersistentVolumeClaim,
  'apps/v1/Deployment': Deployment,
  'policy/v1/PodDisruptionBudget': PodDisruptionBudget,
};

const one = (objects: K8sObject[], kind: string) => {
  const found = objects.filter((o) => o.kind === kind);
  expect(found).toHaveLength(1);
  return found[0] as any;
};

/** The mirror's config as the pod reads it: the ConfigMap's config.yaml through the real loader. */
function podConfig(objects: K8sObject[]): Config {
  const file = join(mkdtempSync(join(tmpdir(), 'pt-deploy-')), 'config.yaml');
  writeFileSync(file, one(objects, 'ConfigMap').data['config.yaml']);
  return loadConfig(file, {}, {});
}

/** The Dockerfile's USER, EXPOSE and VOLUME, which the manifests must agree with. */
function dockerfile(): { user: string; port: number; volume: string } {
  const text = readFileSync(join(REPO, 'Dockerfile'), 'utf8');
  const last = (re: RegExp) => [...text.matchAll(re)].at(-1)![1]!;
  return { user: last(/^USER (\S+)$/gm), port: Number(last(/^EXPOSE (\d+)$/gm)), volume: last(/^VOLUME (\S+)$/gm) };
}

describe.each(VARIANTS)('%s', (_name, dir) => {
  const { objects } = kustomize(dir);
  const deployment = one(objects, 'Deployment');
  const pod = deployment.spec.template.spec;
  const [container] = pod.containers;
  const config = podConfig(objects);

  test('every object is valid against the Kubernetes API schema of its kind', () => {
    expect(objects.map((o) => o.kind).sort()).toEqual(expect.arrayContaining(['ConfigMap', 'Deployment', 'Namespace', 'PodDisruptionBudget', 'Service']));
    for (const o of objects) {
      const Model = MODELS[`${o.apiVersion}/${o.kind}`];
      expect([o.kind, Model !== undefined]).toEqual([o.kind, true]);
      expect(() => new Model!(o).validate()).not.toThrow();
    }
  });

  test('namespaced objects are in the pullthrough namespace, once each', () => {
    const names = objects.map((o) => `${o.kind}/${o.metadata.namespace ?? ''}/${o.metadata.name}`);
    expect(new Set(names).size).toBe(names.length);
    for (const o of objects) expect(o.metadata.namespace).toBe(o.kind === 'Namespace' ? undefined : 'pullthrough');
  });

  test('the Deployment runs the image as its non-root user with a read-only root filesystem and resources', () => {
    expect(container.image).toMatch(/^pullthrough:\d+\.\d+\.\d+$/);
    expect(container.args).toEqual(['serve', '--config', '/etc/pullthrough/config.yaml']);
    expect(pod.securityContext).toMatchObject({ runAsNonRoot: true, runAsUser: 1000, fsGroup: 1000 });
    expect(dockerfile().user).toBe('node'); // uid 1000 in the node images
    expect(container.securityContext).toMatchObject({ readOnlyRootFilesystem: true, allowPrivilegeEscalation: false, capabilities: { drop: ['ALL'] } });
    expect(container.resources.requests).toEqual({ cpu: expect.any(String), memory: expect.any(String) });
    expect(container.resources.limits.memory).toBeDefined();
    // What the server writes to is a volume: the cache root, and /tmp.
    const mounts = Object.fromEntries(container.volumeMounts.map((m: { name: string; mountPath: string }) => [m.mountPath, m.name]));
    expect(config.storage.driver === 'filesystem' ? config.storage.filesystem.root : dockerfile().volume).toBe(dockerfile().volume);
    expect(mounts[dockerfile().volume]).toBe('cache');
    expect(mounts['/tmp']).toBe('tmp');
  });

  test('ports and probe paths are the ones the server serves', () => {
    const port = container.ports.find((p: { name: string }) => p.name === 'registry');
    expect(port.containerPort).toBe(dockerfile().port);
    expect(config.listen).toBe(`[::]:${port.containerPort}`);
    expect(container.livenessProbe.httpGet).toEqual({ path: '/healthz', port: 'registry' });
    expect(container.readinessProbe.httpGet).toEqual({ path: '/readyz', port: 'registry' });
    expect(resolveRoute(container.livenessProbe.httpGet.path).route).toBe('healthz');
    expect(resolveRoute(container.readinessProbe.httpGet.path).route).toBe('readyz');
    // Each readiness check gives up after 5 s; the probe must wait longer than that.
    expect(container.readinessProbe.timeoutSeconds).toBeGreaterThan(5);
    const annotations = deployment.spec.template.metadata.annotations;
    expect(annotations).toEqual({ 'prometheus.io/scrape': 'true', 'prometheus.io/port': String(port.containerPort), 'prometheus.io/path': '/metrics' });
    expect(resolveRoute(annotations['prometheus.io/path']).route).toBe('metrics');
    const service = one(objects, 'Service');
    expect(service.spec.selector).toEqual(deployment.spec.selector.matchLabels);
    expect(service.spec.ports).toEqual([{ name: 'registry', port: port.containerPort, targetPort: 'registry', nodePort: 30500, protocol: 'TCP' }]);
  });

  test('termination grace outlasts the longest pull: shutdownTimeout and every blob deadline', () => {
    const longestMs = Math.max(config.shutdownTimeout, ...config.upstreams.map((u) => u.timeouts.blob));
    expect(pod.terminationGracePeriodSeconds).toBeGreaterThan(longestMs / 1000);
  });

  test('the PodDisruptionBudget and the config select the same pods, volumes exist for every mount', () => {
    expect(one(objects, 'PodDisruptionBudget').spec.selector.matchLabels).toEqual(deployment.spec.selector.matchLabels);
    expect(deployment.spec.template.metadata.labels).toMatchObject(deployment.spec.selector.matchLabels);
    const volumes = pod.volumes.map((v: { name: string }) => v.name).sort();
    expect(container.volumeMounts.map((m: { name: string }) => m.name).sort()).toEqual(volumes);
    expect(pod.volumes.find((v: { name: string }) => v.name === 'config').configMap.name).toBe(one(objects, 'ConfigMap').metadata.name);
  });
});

test('filesystem: one replica, Recreate, its cache on the PVC; S3: replicas sharing the bucket, credentials from the Secret', () => {
  const fs = kustomize(join(K8S, 'overlays/filesystem')).objects;
  const fsDeployment = one(fs, 'Deployment');
  expect(fsDeployment.spec.replicas).toBe(1);
  expect(fsDeployment.spec.strategy).toEqual({ type: 'Recreate' });
  expect(fsDeployment.spec.template.spec.volumes.find((v: { name: string }) => v.name === 'cache')).toEqual({
    name: 'cache',
    persistentVolumeClaim: { claimName: one(fs, 'PersistentVolumeClaim').metadata.name },
  });
  expect(podConfig(fs).storage.driver).toBe('filesystem');

  const s3 = kustomize(join(K8S, 'overlays/s3')).objects;
  const s3Deployment = one(s3, 'Deployment');
  expect(s3Deployment.spec.replicas).toBeGreaterThan(1);
  expect(s3.filter((o) => o.kind === 'PersistentVolumeClaim')).toEqual([]);
  const [container] = containersOf([s3Deployment]);
  expect(container!.envFrom).toEqual([{ secretRef: { name: one(s3, 'Secret').metadata.name } }]);
  expect(Object.keys(one(s3, 'Secret').stringData).sort()).toEqual(['AWS_ACCESS_KEY_ID', 'AWS_SECRET_ACCESS_KEY']);
  const s3Config = podConfig(s3);
  expect(s3Config.storage.driver).toBe('s3');
  // The overlay replaces the whole config file: everything but storage and cache stays the base's.
  const { storage: _a, cache: _b, ...rest } = s3Config;
  const { storage: _c, cache: _d, ...base } = podConfig(fs);
  expect(rest).toEqual(base);
});

test('every file under deploy/kubernetes is used by a kustomization or is the nodes snippet', () => {
  const used = new Set(VARIANTS.flatMap(([, dir]) => kustomize(dir).files).map((f) => relative(K8S, f)));
  const all = readdirSync(K8S, { recursive: true, withFileTypes: true })
    .filter((e) => e.isFile())
    .map((e) => relative(K8S, join(e.parentPath, e.name)));
  expect(all.filter((f) => !used.has(f) && !f.startsWith('nodes/'))).toEqual([]);
});

describe('nodes/: the containerd snippet for the cluster nodes', () => {
  const NODES = join(K8S, 'nodes');
  const config = podConfig(kustomize(K8S).objects);

  test('hosts.toml for every configured upstream, at the node port on loopback, as client-config writes them', () => {
    const generated = generateClientConfig('containerd', {
      mirror: parseMirrorUrl('http://127.0.0.1:30500'),
      upstreams: parseUpstreams(config.upstreams.map((u) => u.name)),
      insecure: false,
      overridePath: true,
    });
    expect(generated.files.map((f) => f.path)).toEqual(config.upstreams.map((u) => `/etc/containerd/certs.d/${u.name}/hosts.toml`));
    for (const file of generated.files) expect(readFileSync(join(NODES, file.path), 'utf8')).toBe(file.content);
    const service = one(kustomize(K8S).objects, 'Service');
    expect(service.spec.ports[0].nodePort).toBe(30500);
  });

  test('containerd-config.toml sets the CRI plugin config_path to where the hosts.toml files go', async () => {
    const { parse } = await import('smol-toml');
    expect(parse(readFileSync(join(NODES, 'containerd-config.toml'), 'utf8'))).toEqual({
      version: 2,
      plugins: { 'io.containerd.grpc.v1.cri': { registry: { config_path: '/etc/containerd/certs.d' } } },
    });
  });
});

test('the renderer refuses what it cannot render: an unknown field, a missing file, a patch that matches nothing', () => {
  const dir = mkdtempSync(join(tmpdir(), 'pt-kustomize-'));
  const write = (name: string, text: string) => writeFileSync(join(dir, name), text);
  write('kustomization.yaml', 'resources: [missing.yaml]\n');
  expect(() => kustomize(dir)).toThrow(/resource missing.yaml does not exist/);
  write('kustomization.yaml', 'resources: []\ncommonLabels: {a: b}\n');
  expect(() => kustomize(dir)).toThrow(/does not apply: commonLabels/);
  write('cm.yaml', 'apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\n');
  write('patch.yaml', 'apiVersion: v1\nkind: ConfigMap\nmetadata: {name: b}\n');
  write('kustomization.yaml', 'resources: [cm.yaml]\npatches: [{path: patch.yaml}]\n');
  expect(() => kustomize(dir)).toThrow(/matches no resource/);
});
