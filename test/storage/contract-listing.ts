import { randomBytes } from 'node:crypto';
import { withDriverBase } from '../../src/storage/base.js';
import type { StorageDriver } from '../../src/storage/driver.js';
import type { DriverFixture } from './contract.js';

/** More than one page of S3's ListObjectsV2 (1,000 keys). */
const MANY_KEYS = 1_020;
const SLOW_MS = 120_000;

/**
 * listObjects: every object under a prefix at any depth with its size and mtime, in one listing,
 * what a start (usage index, gauges) and gc's sweep rely on instead of a stat per blob; and the
 * edges distribution's testsuites cover: zero-byte objects, "directories", concurrent and aborted
 * readers, refused keys.
 */
export function describeListingContract(name: string, make: () => Promise<DriverFixture>): void {
  describe(`storage listing contract: ${name}`, () => {
    let fx: DriverFixture;
    let d: StorageDriver;
    beforeEach(async () => {
      fx = await make();
      d = withDriverBase(fx.driver);
    });
    afterEach(async () => fx.teardown());

    test('lists nested objects with the sizes and mtimes stat reports, sorted, under the prefix only', async () => {
      await d.put('blobs/sha256/ab/abcd', Buffer.alloc(7));
      await d.put('blobs/sha256/ab/abce', Buffer.alloc(0));
      await d.put('blobs/sha256/cd/cdef', Buffer.alloc(123));
      await d.put('blobs/sha256x/ab/no', Buffer.alloc(1));
      await d.put('blobs/other', Buffer.alloc(1));
      const listed = await d.listObjects('blobs/sha256');
      expect(listed.map((o) => [o.key, o.size])).toEqual([
        ['ab/abcd', 7],
        ['ab/abce', 0],
        ['cd/cdef', 123],
      ]);
      for (const o of listed) {
        const info = (await d.stat(`blobs/sha256/${o.key}`))!;
        // S3 reports LastModified in whole seconds.
        expect(Math.abs(o.modifiedAt.getTime() - info.modifiedAt.getTime())).toBeLessThan(1_000);
      }
    });

    test('a missing prefix lists as empty; a deleted object is gone from the listing', async () => {
      expect(await d.listObjects('nothing/here')).toEqual([]);
      await d.put('gone/x', Buffer.from('x'));
      await d.delete('gone/x');
      expect(await d.listObjects('gone')).toEqual([]);
    });

    test(
      `lists past ${MANY_KEYS} keys (more than one S3 page)`,
      async () => {
        const keys = Array.from({ length: MANY_KEYS }, (_, i) => `p${String(i % 7)}/k${String(i).padStart(5, '0')}`);
        for (let i = 0; i < keys.length; i += 32) await Promise.all(keys.slice(i, i + 32).map((k) => d.put(`many/${k}`, Buffer.from(k))));
        const listed = await d.listObjects('many');
        expect(listed.map((o) => o.key)).toEqual([...keys].sort());
        expect(listed.every((o, i) => o.size === Buffer.byteLength(listed[i]!.key))).toBe(true);
      },
      SLOW_MS,
    );

    test('a zero-byte object: stat 0, get empty, a reader that ends at once', async () => {
      await d.put('empty/x', new Uint8Array());
      expect((await d.stat('empty/x'))!.size).toBe(0);
      expect((await d.get('empty/x'))!.length).toBe(0);
      const chunks: Buffer[] = [];
      for await (const c of await d.reader('empty/x')) chunks.push(Buffer.from(c as Buffer));
      expect(Buffer.concat(chunks).length).toBe(0);
    });

    test('stat and get of a "directory" find nothing', async () => {
      await d.put('dir/child', Buffer.from('x'));
      expect(await d.stat('dir')).toBeUndefined();
      expect(await d.get('dir')).toBeUndefined();
    });

    test(
      'concurrent readers of one object each get all of it; one destroyed mid-stream closes',
      async () => {
        const bytes = randomBytes(3 * 1024 * 1024 + 17);
        await d.put('shared/x', bytes);
        const readAll = async () => {
          const chunks: Buffer[] = [];
          for await (const c of await d.reader('shared/x')) chunks.push(Buffer.from(c as Buffer));
          return Buffer.concat(chunks);
        };
        const aborted = await d.reader('shared/x');
        const closed = new Promise<void>((resolve) => aborted.once('close', () => resolve()));
        aborted.once('data', () => aborted.destroy());
        const results = await Promise.all(Array.from({ length: 8 }, readAll));
        await closed;
        for (const r of results) expect(r.equals(bytes)).toBe(true);
        // Nothing held it open: it can go.
        await d.delete('shared/x');
        expect(await d.stat('shared/x')).toBeUndefined();
      },
      SLOW_MS,
    );

    test('keys that leave the namespace are refused', async () => {
      await expect(d.listObjects('../x')).rejects.toThrow(/invalid key/);
      await expect(d.listObjects('/abs')).rejects.toThrow(/invalid key/);
      await expect(d.put('a//b', Buffer.from('x'))).rejects.toThrow(/invalid key/);
      await expect(d.stat('a/./b')).rejects.toThrow(/invalid key/);
    });
  });
}
