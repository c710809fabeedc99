import {
  AbortMultipartUploadCommand,
  CompleteMultipartUploadCommand,
  CreateMultipartUploadCommand,
  PutObjectCommand,
  UploadPartCommand,
  type CompletedPart,
  type S3Client,
} from '@aws-sdk/client-s3';
import pLimit, { type LimitFunction } from 'p-limit';
import type { StorageWriter } from './driver.js';
import { S3CallError, call } from './s3-errors.js';

/** S3's limit on the parts of one upload. */
export const MAX_PARTS = 10_000;
const CONTENT_TYPE = 'application/octet-stream';

export interface S3Target {
  client: S3Client;
  bucket: string;
  partSize: number;
  queueSize: number;
  /** Declare CRC32 on multipart uploads (AWS); off for S3-compatibles that reject checksum headers. */
  checksums: boolean;
}

/**
 * A writer that defers completion: bytes are cut into parts of exactly `partSize` (R2 wants all
 * parts but the last equal) and uploaded as they fill, at most `queueSize` at a time, into a
 * multipart upload on the final key, which S3 keeps invisible until commit() completes it. An
 * object that never fills one part is a single PutObject at commit(), so small blobs cost one
 * request and no upload is ever left to abort.
 *
 * Memory: write() resolves only while fewer than partSize × queueSize bytes (buffered + parts in
 * flight) are held, so a blob of any size costs about that much, plus the caller's chunk.
 * Parts are Buffers, not streams, so the SDK can retry a failed part by sending it again.
 */
export class MultipartWriter implements Pick<StorageWriter, 'write' | 'commit' | 'abort'> {
  private readonly partSize: number;
  private readonly limit: LimitFunction;
  private readonly cancel = new AbortController();
  private chunks: Buffer[] = [];
  private buffered = 0;
  private uploadId?: Promise<string>;
  private readonly parts: Promise<CompletedPart>[] = [];
  private readonly inFlight = new Set<Promise<void>>();
  private inFlightBytes = 0;
  /** The first failure of a part sent in the background (boxed: whatever was thrown counts); later writes and commit() reject with it. */
  private failure?: { error: unknown };
  private state: 'open' | 'committing' | 'committed' | 'aborted' = 'open';
  private aborting?: Promise<void>;

  constructor(
    private readonly s3: S3Target,
    private readonly key: string,
    sizeHint?: number,
  ) {
    // Only a known size can grow the part size up front: every part but the last must be equal.
    this.partSize = Math.max(s3.partSize, sizeHint ? Math.ceil(sizeHint / MAX_PARTS) : 0);
    this.limit = pLimit(s3.queueSize);
  }

  async write(chunk: Uint8Array): Promise<void> {
    this.check('write');
    for (let offset = 0; offset < chunk.byteLength;) {
      if (this.parts.length === MAX_PARTS) {
        const tooLarge = new Error(`object larger than ${MAX_PARTS} parts of ${this.partSize} bytes (S3's limit): raise storage.s3.partSize`);
        this.failure = { error: tooLarge };
        throw tooLarge;
      }
      const take = Math.min(chunk.byteLength - offset, this.partSize - this.buffered);
      // No copy: the contract hands the chunk over; the part's concat is the one copy made.
      this.chunks.push(Buffer.from(chunk.buffer, chunk.byteOffset + offset, take));
      this.buffered += take;
      offset += take;
      if (this.buffered === this.partSize) this.sendPart();
    }
    while (this.failure === undefined && this.inFlightBytes + this.buffered >= this.partSize * this.s3.queueSize) {
      await Promise.race(this.inFlight);
    }
    this.check('write');
  }

  async commit(): Promise<void> {
    this.check('commit');
    this.state = 'committing';
    const { bucket: Bucket } = this.s3;
    if (this.parts.length === 0) {
      const Body = this.take();
      await call(() => this.s3.client.send(new PutObjectCommand({ Bucket, Key: this.key, Body, ContentLength: Body.length, ContentType: CONTENT_TYPE })));
    } else {
      if (this.buffered > 0) this.sendPart();
      const Parts = await Promise.all(this.parts);
      const UploadId = await this.uploadId!;
      await call(() => this.s3.client.send(new CompleteMultipartUploadCommand({ Bucket, Key: this.key, UploadId, MultipartUpload: { Parts } })));
    }
    this.state = 'committed';
  }

  /** Cancels parts in flight, waits for them to settle (so none lands afterwards), then aborts the upload. */
  abort(): Promise<void> {
    this.aborting ??= this.abortOnce().catch((err: unknown) => {
      this.aborting = undefined; // let a later call retry AbortMultipartUpload
      throw err;
    });
    return this.aborting;
  }

  private async abortOnce(): Promise<void> {
    if (this.state === 'committed') return;
    this.state = 'aborted';
    this.take();
    this.cancel.abort();
    await Promise.allSettled(this.parts);
    const UploadId = await this.uploadId?.catch(() => undefined);
    if (UploadId === undefined) return;
    try {
      await call(() => this.s3.client.send(new AbortMultipartUploadCommand({ Bucket: this.s3.bucket, Key: this.key, UploadId })));
    } catch (err) {
      if (!(err instanceof S3CallError && err.code === 'NoSuchUpload')) throw err;
    }
  }

  private check(operation: string): void {
    if (this.state === 'aborted') throw new Error(`${operation} after abort`);
    if (this.state !== 'open') throw new Error(`${operation} after commit`);
    if (this.failure !== undefined) throw this.failure.error;
  }

  private take(): Buffer {
    const bytes = Buffer.concat(this.chunks, this.buffered);
    this.chunks = [];
    this.buffered = 0;
    return bytes;
  }

  private sendPart(): void {
    const body = this.take();
    const partNumber = this.parts.length + 1;
    if (this.uploadId === undefined) {
      this.uploadId = this.create();
      this.uploadId.catch(() => undefined); // surfaced through the parts that await it
    }
    this.inFlightBytes += body.length;
    const part = this.limit(() => this.uploadPart(partNumber, body));
    this.parts.push(part);
    // Never rejects: the failure is kept for the next write() or commit().
    const settled: Promise<void> = part
      .then(
        () => undefined,
        (err: unknown) => {
          this.failure ??= { error: err };
        },
      )
      .then(() => {
        this.inFlightBytes -= body.length;
        this.inFlight.delete(settled);
      });
    this.inFlight.add(settled);
  }

  private async create(): Promise<string> {
    const res = await call(() =>
      this.s3.client.send(
        new CreateMultipartUploadCommand({
          Bucket: this.s3.bucket,
          Key: this.key,
          ContentType: CONTENT_TYPE,
          ChecksumAlgorithm: this.s3.checksums ? 'CRC32' : undefined,
        }),
      ),
    );
    if (!res.UploadId) throw new Error('CreateMultipartUpload returned no UploadId');
    return res.UploadId;
  }

  private async uploadPart(PartNumber: number, Body: Buffer): Promise<CompletedPart> {
    const UploadId = await this.uploadId!;
    // Parts queued behind a failure or an abort are not sent at all.
    if (this.failure !== undefined) throw this.failure.error;
    if (this.cancel.signal.aborted) throw new Error('upload aborted');
    const res = await call(() =>
      this.s3.client.send(
        new UploadPartCommand({
          Bucket: this.s3.bucket,
          Key: this.key,
          UploadId,
          PartNumber,
          Body,
          ContentLength: Body.length,
          ChecksumAlgorithm: this.s3.checksums ? 'CRC32' : undefined,
        }),
        { abortSignal: this.cancel.signal },
      ),
    );
    return { PartNumber, ETag: res.ETag, ChecksumCRC32: res.ChecksumCRC32 };
  }
}
