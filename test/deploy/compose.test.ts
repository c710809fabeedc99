// deploy/compose.yaml: it parses, the mirror alone starts with no profile, the S3 variant is a
// profile whose config loads through the real config loader and points at the store the file
// starts, with the bucket it creates and the credentials it gives; ports agree with the image.
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse as parseYaml } from 'yaml';
import { loadConfig } from '../../src/config.js';

const REPO = fileURLToPath(new URL('../../', import.meta.url));
const COMPOSE = join(REPO, 'deploy/compose.yaml');

interface Service {
  image?: string;
  build?: string;
  profiles?: string[];
  command?: string[];
  entrypoint?: string[];
  ports?: string[];
  volumes?: string[];
  environment?: Record<string, string>;
  depends_on?: Record<string, { condition: string }>;
  read_only?: boolean;
  stop_grace_period?: string;
}

const compose = parseYaml(readFileSync(COMPOSE, 'utf8')) as { services: Record<string, Service>; volumes: Record<string, unknown> };
const { services } = compose;
const exposed = Number(/^EXPOSE (\d+)$/m.exec(readFileSync(join(REPO, 'Dockerfile'), 'utf8'))![1]);
const volume = /^VOLUME (\S+)$/m.exec(readFileSync(join(REPO, 'Dockerfile'), 'utf8'))![1]!;

/** `host:container` → the container port. */
const containerPort = (mapping: string) => Number(mapping.split(':').at(-1));
/** A bind mount's host side, resolved as compose does: relative to the compose file. */
const bindSource = (mount: string) => join(dirname(COMPOSE), mount.split(':')[0]!);

test('without a profile, only the mirror starts: built from the repository, its cache in a named volume', () => {
  const unprofiled = Object.entries(services)
    .filter(([, s]) => !s.profiles)
    .map(([name]) => name);
  expect(unprofiled).toEqual(['pullthrough']);
  const mirror = services.pullthrough!;
  expect(existsSync(join(dirname(COMPOSE), mirror.build!, 'Dockerfile'))).toBe(true);
  expect(mirror.ports!.map(containerPort)).toEqual([exposed]);
  expect(mirror.volumes).toEqual([`cache:${volume}`]);
  expect(compose.volumes).toHaveProperty('cache');
  expect(mirror.read_only).toBe(true);
  // The image's default command serves on the filesystem volume; its config listens on the exposed port.
  expect(loadConfig(join(REPO, 'config/default.yaml'), {}, {}).listen).toBe(`[::]:${exposed}`);
});

test('profile s3: the mirror on the store the file starts, the bucket it creates, the credentials it gives', () => {
  const s3Services = Object.entries(services)
    .filter(([, s]) => s.profiles?.includes('s3'))
    .map(([name]) => name);
  expect(s3Services.sort()).toEqual(['minio', 'minio-bucket', 'pullthrough-s3']);
  const mirror = services['pullthrough-s3']!;
  expect(mirror.image).toBe(services.pullthrough!.image);
  expect(mirror.ports!.map(containerPort)).toEqual([exposed]);
  expect(mirror.ports![0]!.split(':')[0]).not.toBe(services.pullthrough!.ports![0]!.split(':')[0]);

  // The config file mounted where the command reads it, loaded by the server's own loader.
  const [mount] = mirror.volumes!;
  expect(mount!.split(':')[1]).toBe(mirror.command![mirror.command!.indexOf('--config') + 1]);
  const config = loadConfig(bindSource(mount!), {}, {});
  expect(config.listen).toBe(`[::]:${exposed}`);
  if (config.storage.driver !== 's3') throw new Error('compose/s3.yaml must use the s3 driver');
  const { endpoint, bucket, forcePathStyle } = config.storage.s3;
  expect(new URL(endpoint!).hostname).toBe('minio');
  expect(forcePathStyle).toBe(true);

  // MinIO's root credentials are the mirror's AWS credentials, and the one-shot creates its bucket.
  const minio = services.minio!;
  expect(mirror.environment).toEqual({ AWS_ACCESS_KEY_ID: minio.environment!.MINIO_ROOT_USER, AWS_SECRET_ACCESS_KEY: minio.environment!.MINIO_ROOT_PASSWORD });
  const init = services['minio-bucket']!.entrypoint!.join(' ');
  expect(init).toContain(`mc alias set local ${new URL(endpoint!).origin} ${minio.environment!.MINIO_ROOT_USER} ${minio.environment!.MINIO_ROOT_PASSWORD}`);
  expect(init).toContain(`mc mb --ignore-existing local/${bucket}`);
  expect(mirror.depends_on).toEqual({ 'minio-bucket': { condition: 'service_completed_successfully' } });
  expect(services['minio-bucket']!.depends_on).toEqual({ minio: { condition: 'service_healthy' } });
  expect(compose.volumes).toHaveProperty('minio');
});

test('every service that names a volume has it declared', () => {
  for (const s of Object.values(services)) {
    for (const mount of s.volumes ?? []) {
      const source = mount.split(':')[0]!;
      if (source.startsWith('.')) expect(existsSync(bindSource(mount))).toBe(true);
      else expect(compose.volumes).toHaveProperty(source);
    }
  }
});
