/**
 * The storage contract. Drivers deal only in keys and bytes; they know nothing of HTTP, OCI or
 * upstreams. Keys are relative slash-separated paths built by storage/paths.ts, already validated
 * by withDriverBase (no empty, `.` or `..` segments, no leading slash).
 *
 * Every driver passes test/storage/contract.ts; the cache relies on nothing beyond what it checks.
 */
import type { Readable } from 'node:stream';
import { osErrorText } from './os-error.js';

export interface ObjectInfo {
  size: number;
  modifiedAt: Date;
}

export interface ListedObject extends ObjectInfo {
  /** The key below the listed prefix, e.g. `ab/abcd…` under `blobs/sha256`. */
  key: string;
}

/** Inclusive byte range, already checked against the object's size by the caller. */
export interface ByteRange {
  start: number;
  end: number;
}

export interface StorageWriter {
  /**
   * Appends bytes. Resolves when the driver can take more (backpressure); rejects on a write error
   * (possibly one of an earlier chunk). The driver may hold the chunk until commit: callers must
   * not reuse its memory.
   */
  write(chunk: Uint8Array): Promise<void>;
  /**
   * How many of the bytes written so far can be read back with readBack(). Only grows; it trails
   * what write() was given by what the driver still holds in memory, and stops growing after a
   * failed write.
   */
  readonly landed: number;
  /**
   * Up to `length` bytes from `position`, below `landed`: the object as it is being written, for
   * readers that follow it before it is committed. Valid until release() or abort(), also after
   * commit() and after a failed write. `into`: read into (the start of) this buffer, at most its
   * length, instead of a new one; the answer is then a view of it.
   */
  readBack(position: number, length: number, into?: Buffer): Promise<Buffer>;
  /**
   * Makes everything written visible under the key, atomically: a reader sees either the old
   * object (or none) or the whole new one, never a prefix. If the key already exists (a concurrent
   * writer won a race on the same content-addressed key), the commit succeeds and one object
   * remains. After commit no more writes are taken; readBack() still works until release().
   */
  commit(): Promise<void>;
  /** Discards what was written and frees everything; nothing becomes visible. Idempotent; safe after a failed write. */
  abort(): Promise<void>;
  /**
   * The caller is done with the writer: after a commit, frees what read-back needed (handles, a
   * local spool); without one, the same as abort(). Idempotent. Every writer ends with one of the two.
   */
  release(): Promise<void>;
}

export interface StorageHealth {
  ok: boolean;
  /** The driver's own error text, e.g. "filesystem: open /x/_tmp/probe: permission denied". */
  error?: string;
}

export interface StorageDriver {
  /** A short name for logs and errors: "filesystem", "s3". */
  readonly name: string;
  /** Size and mtime of a committed object, or undefined if there is none. */
  stat(key: string): Promise<ObjectInfo | undefined>;
  /** The whole object, or undefined if missing. For small objects (manifests, tag links). */
  get(key: string): Promise<Buffer | undefined>;
  /** Writes a small object atomically (temp + rename / single PUT). Overwrites. */
  put(key: string, bytes: Uint8Array): Promise<void>;
  /**
   * A stream of the object, or of one inclusive range of it. Rejects with a NotFoundError when
   * the object is missing. The stream ends cleanly only after every requested byte was read.
   */
  reader(key: string, range?: ByteRange): Promise<Readable>;
  /**
   * A temp sink for a new object; nothing is visible under the key until commit(). `sizeHint`, when
   * the final size is known, lets a driver size its parts (S3's 10,000-part limit).
   */
  writer(key: string, options?: WriterOptions): Promise<StorageWriter>;
  /** Removes an object. Missing keys are not an error. */
  delete(key: string): Promise<void>;
  /**
   * Direct children of a prefix, as names (not full keys), sorted: both objects and "directories".
   * A missing prefix lists as empty.
   */
  list(prefix: string): Promise<string[]>;
  /**
   * Every object under a prefix, at any depth, with its size and mtime, sorted by key: one listing
   * (readdir and stat in one pass; S3 ListObjectsV2 pages, no request per object). Keys are
   * relative to the prefix; "directories" are not objects. A missing prefix lists as empty.
   */
  listObjects(prefix: string): Promise<ListedObject[]>;
  /** Writes, reads back and deletes a probe object; reports the driver's real error text. */
  health(): Promise<StorageHealth>;
  /** Free and total bytes of the backing store, or undefined where there is no such limit (S3). */
  space(): Promise<StorageSpace | undefined>;
  /**
   * Removes temps abandoned before `olderThan` (a crashed writer's temp file, an incomplete S3
   * multipart upload). Temps of live writers are younger than any sane cutoff. Returns how many.
   * With `dryRun`, removes nothing and returns how many it would remove (`gc --dry-run`). With
   * `key`, only that key's temps (a replica taking over a dead one's fetch); the filesystem's temps
   * carry no key, so it removes none then (they go at the next start's sweep).
   */
  sweepTemps(olderThan: Date, options?: { dryRun?: boolean; key?: string }): Promise<number>;
  /**
   * A URL clients may GET the object from directly (S3 presigned, when configured), or undefined:
   * the mirror then serves the bytes itself.
   */
  directUrl(key: string): Promise<string | undefined>;
}

export interface WriterOptions {
  sizeHint?: number;
}

export interface StorageSpace {
  freeBytes: number;
  totalBytes: number;
}

/** A missing object where the caller required one (reader of a missing key). */
export class NotFoundError extends Error {
  readonly code = 'ENOENT';
  constructor(readonly key: string) {
    super(`not found: ${key}`);
    this.name = 'NotFoundError';
  }
}

/** Any driver failure, with the driver name and operation in front of the driver's own text. */
export class StorageError extends Error {
  constructor(
    readonly driver: string,
    readonly operation: string,
    readonly cause: unknown,
  ) {
    super(`${driver}: ${operation}: ${osErrorText(cause)}`);
    this.name = 'StorageError';
  }
}
