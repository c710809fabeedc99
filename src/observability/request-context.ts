import { AsyncLocalStorage } from 'node:async_hooks';

/** What code deep below a request records for that request's log line. */
export interface RequestNotes {
  /** The last upstream answer this request caused: a status, or `unreachable` when none came. */
  upstreamStatus?: number | 'unreachable';
}

// Async context rather than a parameter threaded through cache and client: the upstream client
// is several calls below the handler, and coalesced fetches run in the context of the request
// that started them, so joiners are rightly not credited with an upstream call.
const current = new AsyncLocalStorage<RequestNotes>();

export function withRequestNotes<T>(notes: RequestNotes, fn: () => T): T {
  return current.run(notes, fn);
}

export function noteUpstreamStatus(status: number | 'unreachable'): void {
  const notes = current.getStore();
  if (notes) notes.upstreamStatus = status;
}
