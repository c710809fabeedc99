import { randomBytes } from 'node:crypto';
import { NotFoundError, type StorageDriver } from '../../src/storage/driver.js';
import { withDriverBase } from '../../src/storage/base.js';

async function readAll(stream: NodeJS.ReadableStream): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of stream) chunks.push(Buffer.from(c as Buffer));
  return Buffer.concat(chunks);
}

export interface DriverFixture {
  driver: StorageDriver;
  /** Every object key the backend holds (temps included, if the backend can see them). */
  allKeys(): Promise<string[]>;
  teardown(): Promise<void>;
}

/**
 * The storage contract: what the cache and HTTP layers rely on, run against every driver. Each
 * driver's test file only says how to make one. Teardown fails if a test left a temp behind.
 */
export function describeStorageDriver(name: string, make: () => Promise<DriverFixture>): void {
  describe(`storage contract: ${name}`, () => {
    let fx: DriverFixture;
    let d: StorageDriver;
    beforeEach(async () => {
      fx = await make();
      d = withDriverBase(fx.driver);
    });
    afterEach(async () => {
      await fx.teardown();
    });

    test('stat and get of a missing key are undefined; reader rejects with NotFoundError', async () => {
      expect(await d.stat('a/missing')).toBeUndefined();
      expect(await d.get('a/missing')).toBeUndefined();
      await expect(d.reader('a/missing')).rejects.toBeInstanceOf(NotFoundError);
    });

    test('put then get, stat and overwrite', async () => {
      await d.put('x/y/z', Buffer.from('hello'));
      expect((await d.get('x/y/z'))?.toString()).toBe('hello');
      expect((await d.stat('x/y/z'))?.size).toBe(5);
      await d.put('x/y/z', Buffer.from('bye'));
      expect((await d.get('x/y/z'))?.toString()).toBe('bye');
    });

    test('writer: nothing is visible before commit, everything after', async () => {
      const bytes = randomBytes(300_000);
      const w = await d.writer('blobs/k1');
      await w.write(bytes.subarray(0, 100_000));
      await w.write(bytes.subarray(100_000));
      expect(await d.stat('blobs/k1')).toBeUndefined();
      await w.commit();
      expect((await d.stat('blobs/k1'))?.size).toBe(bytes.length);
      expect((await readAll(await d.reader('blobs/k1'))).equals(bytes)).toBe(true);
    });

    test('writer: abort leaves nothing behind, and is idempotent', async () => {
      const w = await d.writer('blobs/k2');
      await w.write(randomBytes(1000));
      await w.abort();
      await w.abort();
      expect(await d.stat('blobs/k2')).toBeUndefined();
      expect(await fx.allKeys()).toEqual([]);
    });

    test('ranged reads return exactly the inclusive range', async () => {
      const bytes = randomBytes(10_000);
      await d.put('blobs/r', bytes);
      expect((await readAll(await d.reader('blobs/r', { start: 0, end: 0 }))).equals(bytes.subarray(0, 1))).toBe(true);
      expect((await readAll(await d.reader('blobs/r', { start: 100, end: 4999 }))).equals(bytes.subarray(100, 5000))).toBe(true);
      expect((await readAll(await d.reader('blobs/r', { start: 9000, end: 9999 }))).equals(bytes.subarray(9000))).toBe(true);
    });

    test('concurrent writers of one key: both commit, one whole object remains', async () => {
      const bytes = randomBytes(200_000);
      const [a, b] = await Promise.all([d.writer('blobs/same'), d.writer('blobs/same')]);
      await Promise.all([a.write(bytes), b.write(bytes)]);
      await Promise.all([a.commit(), b.commit()]);
      expect((await d.get('blobs/same'))?.equals(bytes)).toBe(true);
      expect((await fx.allKeys()).filter((k) => k.includes('same'))).toEqual(['blobs/same']);
    });

    test('list returns sorted direct children; a missing prefix is empty', async () => {
      await d.put('repositories/u/library/alpine/_tags/3', Buffer.from('{}'));
      await d.put('repositories/u/library/busybox/_tags/1', Buffer.from('{}'));
      await d.put('repositories/u/top', Buffer.from('{}'));
      expect(await d.list('repositories/u')).toEqual(['library', 'top']);
      expect(await d.list('repositories/u/library')).toEqual(['alpine', 'busybox']);
      expect(await d.list('repositories/none')).toEqual([]);
      expect(await d.list('')).toEqual(['repositories']);
    });

    test('delete removes; deleting a missing key is fine', async () => {
      await d.put('blobs/del', Buffer.from('x'));
      await d.delete('blobs/del');
      await d.delete('blobs/del');
      expect(await d.stat('blobs/del')).toBeUndefined();
    });

    test('keys that could escape the namespace are refused', async () => {
      for (const key of ['../x', 'a/../../x', '/abs', 'a//b', 'a/./b', 'a\\b', 'a\0b']) {
        await expect(d.get(key)).rejects.toThrow(/invalid key/);
      }
    });

    test('sweepTemps removes abandoned temps older than the cutoff, and only those', async () => {
      const w = await d.writer('blobs/abandoned');
      await w.write(randomBytes(200_000));
      expect(await d.sweepTemps(new Date(Date.now() - 60_000))).toBe(0);
      await d.sweepTemps(new Date(Date.now() + 60_000));
      expect(await fx.allKeys()).toEqual([]);
      await w.abort();
      expect(await d.stat('blobs/abandoned')).toBeUndefined();
    });

    test('space is undefined or plausible byte counts', async () => {
      const space = await d.space();
      if (space) expect(space.freeBytes).toBeLessThanOrEqual(space.totalBytes);
    });

    test('health is ok on a working backend', async () => {
      expect(await d.health()).toEqual({ ok: true });
      expect(await fx.allKeys()).toEqual([]);
    });
  });
}
