import { configSchema } from '../../src/config.js';

const s3 = { driver: 's3', s3: { bucket: 'mirror', region: 'us-east-1' } };

describe('size limits on S3', () => {
  test('an explicit maxSize on S3 is refused, saying what to do instead', () => {
    const parsed = configSchema.safeParse({ storage: s3, cache: { maxSize: '50GiB' } });
    expect(parsed.success).toBe(false);
    const issue = parsed.error!.issues[0]!;
    expect(issue.path).toEqual(['cache', 'maxSize']);
    expect(issue.message).toMatch(/not supported on S3.*maxSize: none.*pullthrough gc/);
  });

  test('maxAge on S3 is refused too; it is off by default', () => {
    const parsed = configSchema.safeParse({ storage: s3, cache: { maxSize: 'none', maxAge: '30d' } });
    expect(parsed.error!.issues[0]!.path).toEqual(['cache', 'maxAge']);
    expect(configSchema.parse({}).cache.maxAge).toBeUndefined();
    expect(configSchema.parse({ cache: { maxAge: '30d' } }).cache.maxAge).toBe(30 * 86_400_000);
  });

  test('with cluster.redis, maxSize and maxAge on S3 are taken: the replicas share one index in Redis', () => {
    const cluster = { redis: 'redis://redis:6379' };
    const parsed = configSchema.parse({ storage: s3, cluster, cache: { maxSize: '50GiB', maxAge: '30d' } });
    expect(parsed.cache).toMatchObject({ maxSize: 50 * 2 ** 30, maxAge: 30 * 86_400_000 });
  });

  test('none and auto (unbounded on S3) are taken; an explicit size on the filesystem too', () => {
    expect(configSchema.safeParse({ storage: s3, cache: { maxSize: 'none' } }).success).toBe(true);
    expect(configSchema.safeParse({ storage: s3 }).success).toBe(true);
    expect(configSchema.safeParse({ cache: { maxSize: '50GiB' } }).success).toBe(true);
  });
});
