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

export interface ContractOptions {
  /**
   * Size of what the writer cases write (default 300,000 B). A driver with multipart uploads runs
   * the contract again with this above its part size, so the same cases cover several parts.
   */
  objectBytes?: number;
}

/** More than one page of S3's ListObjectsV2 (1,000 keys). */
const MANY_KEYS = 1_050;
/** For the cases that move objectBytes or many keys over a network. */
const SLOW_MS = 120_000;

/**
 * The storage contract: what the cache and HTTP layers rely on, run against every driver. Each
 * driver's test file only says how to make one. Teardown fails if a test left a temp behind.
 */
export function describeStorageDriver(name: string, make: () => Promise<DriverFixture>, options: ContractOptions = {}): void {
  const size = options.objectBytes ?? 300_000;
  // Writes of odd-sized chunks, so a driver's parts are cut across chunk boundaries.
  const writeAll = async (w: { write(chunk: Uint8Array): Promise<void> }, bytes: Buffer) => {
    for (let i = 0; i < bytes.length; i += 1_000_003) await w.write(bytes.subarray(i, i + 1_000_003));
  };

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

    test(
      'writer: nothing is visible before commit, everything after',
      async () => {
        const bytes = randomBytes(size);
        const w = await d.writer('blobs/k1');
        await writeAll(w, bytes);
        expect(await d.stat('blobs/k1')).toBeUndefined();
        await w.commit();
        await w.release();
        expect((await d.stat('blobs/k1'))?.size).toBe(bytes.length);
        expect((await readAll(await d.reader('blobs/k1'))).equals(bytes)).toBe(true);
      },
      SLOW_MS,
    );

    test(
      'writer: abort leaves nothing behind, and is idempotent',
      async () => {
        const w = await d.writer('blobs/k2');
        await writeAll(w, randomBytes(size));
        await w.abort();
        await w.abort();
        expect(await d.stat('blobs/k2')).toBeUndefined();
        expect(await fx.allKeys()).toEqual([]);
      },
      SLOW_MS,
    );

    test(
      'ranged reads return exactly the inclusive range: the first byte alone, the middle, the last byte',
      async () => {
        const bytes = randomBytes(size);
        const w = await d.writer('blobs/r');
        await writeAll(w, bytes);
        await w.commit();
        await w.release();
        const last = size - 1;
        const ranges = [
          { start: 0, end: 0 }, // bytes=0-0: one byte, not the whole object
          { start: 100, end: Math.floor(size / 2) + 100 }, // across a part boundary when there are parts
          { start: last, end: last },
          { start: 1, end: last },
        ];
        for (const range of ranges) {
          const got = await readAll(await d.reader('blobs/r', range));
          expect({ range, length: got.length, equal: got.equals(bytes.subarray(range.start, range.end + 1)) }).toEqual({
            range,
            length: range.end - range.start + 1,
            equal: true,
          });
        }
      },
      SLOW_MS,
    );

    test(
      'concurrent writers of one key: both commit, one whole object remains',
      async () => {
        const bytes = randomBytes(size);
        const [a, b] = await Promise.all([d.writer('blobs/same'), d.writer('blobs/same')]);
        await Promise.all([writeAll(a, bytes), writeAll(b, bytes)]);
        await Promise.all([a.commit(), b.commit()]);
        await Promise.all([a.release(), b.release()]);
        expect((await d.get('blobs/same'))?.equals(bytes)).toBe(true);
        expect((await fx.allKeys()).filter((k) => k.includes('same'))).toEqual(['blobs/same']);
      },
      SLOW_MS,
    );

    test(
      'commits of one key while readers stream it: every read is one whole version, never short or mixed',
      async () => {
        // Different bytes per version (the cache only ever writes one content per key, but this way
        // a read that mixes two versions, or stops early, cannot pass for a whole one).
        const versions = Array.from({ length: 5 }, () => randomBytes(size));
        const key = 'blobs/contended';
        await d.put(key, versions[0]!);
        const commitVersion = async (bytes: Buffer) => {
          const w = await d.writer(key);
          await writeAll(w, bytes);
          await w.commit();
          await w.release();
        };
        let writing = true;
        const results = { whole: 0, bad: [] as string[] };
        const reader = async () => {
          for (let reads = 0; writing || reads < 3; reads++) {
            const got = await readAll(await d.reader(key)).catch((err: unknown) => new Error(String(err)));
            if (got instanceof Error) results.bad.push(got.message);
            else if (!versions.some((v) => v.equals(got))) results.bad.push(`${got.length} bytes matching no version`);
            else results.whole += 1;
          }
        };
        const writers = (async () => {
          // Two writers race for each new version pair, as two replicas would.
          for (let i = 1; i < versions.length; i += 2) {
            await Promise.all([commitVersion(versions[i]!), commitVersion(versions[i + 1] ?? versions[i]!)]);
          }
          writing = false;
        })();
        await Promise.all([writers, ...Array.from({ length: 6 }, reader)]);
        expect(results.bad).toEqual([]);
        expect(results.whole).toBeGreaterThanOrEqual(18);
        expect((await fx.allKeys()).filter((k) => k.includes('contended'))).toEqual([key]);
      },
      SLOW_MS,
    );

    test('list returns sorted direct children; a missing prefix is empty', async () => {
      await d.put('repositories/u/library/alpine/_tags/3', Buffer.from('{}'));
      await d.put('repositories/u/library/busybox/_tags/1', Buffer.from('{}'));
      await d.put('repositories/u/top', Buffer.from('{}'));
      expect(await d.list('repositories/u')).toEqual(['library', 'top']);
      expect(await d.list('repositories/u/library')).toEqual(['alpine', 'busybox']);
      expect(await d.list('repositories/none')).toEqual([]);
      expect(await d.list('')).toEqual(['repositories']);
    });

    test(
      `list past ${MANY_KEYS} keys (more than one S3 page), and only under the prefix asked`,
      async () => {
        const names = Array.from({ length: MANY_KEYS }, (_, i) => `k${String(i).padStart(5, '0')}`);
        // Neighbours that share the prefix's first letters, or sort between its keys, must not leak in.
        const neighbours = ['many-more/x', 'manyx', 'man/y', 'many0'];
        const keys = [...names.map((n) => `many/${n}`), 'many/zdir/child', ...neighbours];
        for (let i = 0; i < keys.length; i += 32) {
          await Promise.all(keys.slice(i, i + 32).map((k) => d.put(k, Buffer.from(k))));
        }
        expect(await d.list('many')).toEqual([...names, 'zdir']);
        expect(await d.list('many/zdir')).toEqual(['child']);
        expect(await d.list('')).toEqual(['man', 'many', 'many-more', 'many0', 'manyx']);
        expect((await fx.allKeys()).length).toBe(keys.length);
      },
      SLOW_MS,
    );

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

    test(
      'sweepTemps removes abandoned temps older than the cutoff, and only those',
      async () => {
        const abandoned = await d.writer('blobs/abandoned');
        await writeAll(abandoned, randomBytes(size));
        // Filesystem: the temp file; S3: the multipart upload, once a part was sent (a writer that
        // never filled one has nothing stored yet).
        const temps = (await fx.allKeys()).length;
        expect(await d.sweepTemps(new Date(Date.now() - 60_000))).toBe(0);
        expect((await fx.allKeys()).length).toBe(temps);
        expect(await d.sweepTemps(new Date(Date.now() + 60_000))).toBe(temps);
        expect(await fx.allKeys()).toEqual([]);
        await abandoned.abort();
        expect(await d.stat('blobs/abandoned')).toBeUndefined();
      },
      SLOW_MS,
    );

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
