import { S3ServiceException } from '@aws-sdk/client-s3';
import { NotFoundError } from './driver.js';

/** An SDK failure with its S3 code ("NoSuchKey", "AccessDenied") and HTTP status, for callers to switch on. */
export class S3CallError extends Error {
  constructor(
    readonly code: string | undefined,
    readonly status: number | undefined,
    cause: unknown,
  ) {
    super(s3ErrorText(cause), { cause });
    this.name = 'S3CallError';
  }
}

/** Runs one SDK call, turning its failure into an S3CallError whose message names the S3 code. */
export async function call<T>(fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    if (err instanceof S3CallError || err instanceof NotFoundError) throw err;
    const status = (err as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode;
    throw new S3CallError(err instanceof S3ServiceException ? err.name : undefined, status, err);
  }
}

/**
 * "NoSuchBucket: The specified bucket does not exist (HTTP 404)", "connect ECONNREFUSED
 * 127.0.0.1:9": the S3 code first (the SDK's message alone omits it), or the socket error as Node
 * words it.
 */
export function s3ErrorText(err: unknown): string {
  if (err instanceof S3CallError) return err.message;
  // Duck-typed, not instanceof: socket errors may come from another realm (jest's sandbox).
  const e = err as { message?: unknown; name?: unknown; errors?: unknown } | null | undefined;
  // Node's happy-eyeballs connect (several addresses) throws an AggregateError with no message.
  if (Array.isArray(e?.errors) && e.errors.length > 0 && !e.message) return e.errors.map(s3ErrorText).join('; ');
  if (err instanceof S3ServiceException) {
    const status = err.$metadata.httpStatusCode;
    const message = err.message && err.message !== err.name && err.message !== 'UnknownError' ? `: ${err.message}` : '';
    // A HEAD error has no body; the SDK then names it after the status ("403").
    if (/^\d+$/.test(err.name)) return `HTTP ${err.name}${message}`;
    return `${err.name}${message}${status ? ` (HTTP ${status})` : ''}`;
  }
  if (typeof e?.message === 'string' && e.message !== '') return e.message;
  return typeof e?.name === 'string' ? e.name : String(err);
}
