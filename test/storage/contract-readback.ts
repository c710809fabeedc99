import { randomBytes } from 'node:crypto';
import { withDriverBase } from '../../src/storage/base.js';
import type { StorageDriver, StorageWriter } from '../../src/storage/driver.js';
import type { DriverFixture } from './contract.js';

/**
 * The writer's read-back contract, which readers of a blob still being fetched stand on: what
 * `landed` promises is readable, exactly, while writing, after a failed write and after commit, until
 * release(). Run against every driver beside the storage contract.
 */
export function describeWriterReadBack(name: string, make: () => Promise<DriverFixture>, objectBytes = 3 * 1024 * 1024 + 17): void {
  describe(`writer read-back: ${name}`, () => {
    let fx: DriverFixture;
    let d: StorageDriver;
    beforeEach(async () => {
      fx = await make();
      d = withDriverBase(fx.driver);
    });
    afterEach(async () => {
      const temps = (await fx.allKeys()).filter((k) => k.includes('_tmp/'));
      await fx.teardown();
      expect(temps).toEqual([]);
    });

    /** Writes `bytes` in odd chunks; after each write, checks what landed reads back as exactly that prefix. */
    async function writeFollowing(w: StorageWriter, bytes: Buffer): Promise<number[]> {
      const seen: number[] = [];
      for (let i = 0; i < bytes.length; i += 250_001) {
        await w.write(bytes.subarray(i, i + 250_001));
        const landed = w.landed;
        expect(landed).toBeLessThanOrEqual(Math.min(bytes.length, i + 250_001));
        expect(landed).toBeGreaterThanOrEqual(seen.at(-1) ?? 0);
        seen.push(landed);
        if (landed > 0) {
          const from = Math.floor(landed / 3);
          expect((await w.readBack(from, landed - from)).equals(bytes.subarray(from, landed))).toBe(true);
        }
      }
      return seen;
    }

    test('what landed reads back exactly while writing; after commit all of it does, until release', async () => {
      const bytes = randomBytes(objectBytes);
      const w = await d.writer('rb/object', { sizeHint: bytes.length });
      const seen = await writeFollowing(w, bytes);
      await w.commit();
      expect(w.landed).toBe(bytes.length);
      expect(seen.at(-1)).toBeLessThanOrEqual(bytes.length);
      // Arbitrary slices, concurrently, of the committed object through the writer.
      const slices = Array.from({ length: 16 }, (_, i) => {
        const start = Math.floor((i * bytes.length) / 16);
        return [start, Math.min(bytes.length - start, 100_000 + i * 7)] as const;
      });
      const got = await Promise.all(slices.map(([start, length]) => w.readBack(start, length)));
      got.forEach((b, i) => expect(b.equals(bytes.subarray(slices[i]![0], slices[i]![0] + slices[i]![1]))).toBe(true));
      expect((await d.get('rb/object'))?.equals(bytes)).toBe(true);
      await w.release();
      await w.release(); // idempotent
      expect((await d.get('rb/object'))?.equals(bytes)).toBe(true);
    });

    test('a read-back under way when release() is called still returns its bytes', async () => {
      const bytes = randomBytes(objectBytes);
      const w = await d.writer('rb/racing');
      await writeFollowing(w, bytes);
      await w.commit();
      const reading = w.readBack(0, bytes.length);
      const releasing = w.release();
      expect((await reading).equals(bytes)).toBe(true);
      await releasing;
    });

    test('release() without commit is abort: nothing becomes visible and no temp stays', async () => {
      const bytes = randomBytes(objectBytes);
      const w = await d.writer('rb/dropped');
      await writeFollowing(w, bytes);
      await w.release();
      expect(await d.stat('rb/dropped')).toBeUndefined();
      await w.abort(); // and abort after it is harmless
    });

    test('readers of one writer at different positions, each following it to the end', async () => {
      const bytes = randomBytes(objectBytes);
      const w = await d.writer('rb/followed', { sizeHint: bytes.length });
      const follow = async (from: number): Promise<Buffer> => {
        const parts: Buffer[] = [];
        for (let at = from; at < bytes.length;) {
          if (w.landed <= at) {
            await new Promise((r) => setTimeout(r, 1));
            continue;
          }
          const part = await w.readBack(at, Math.min(64 * 1024, w.landed - at));
          parts.push(part);
          at += part.length;
        }
        return Buffer.concat(parts);
      };
      const readers = [0, 1, 99_999, Math.floor(objectBytes / 2)].map(follow);
      await writeFollowing(w, bytes);
      await w.commit();
      const got = await Promise.all(readers);
      expect(got.map((b, i) => b.equals(bytes.subarray([0, 1, 99_999, Math.floor(objectBytes / 2)][i])))).toEqual([true, true, true, true]);
      await w.release();
    });
  });
}
