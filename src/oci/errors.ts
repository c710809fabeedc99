/**
 * Registry errors: domain code throws a RegistryError with an OCI error code; one Koa middleware
 * (api/errors.ts) renders every one of them as `{"errors":[{code,message,detail}]}` with the status
 * from the table below. Nothing else in the code base picks HTTP statuses for errors.
 */
export const ERROR_STATUS = {
  BLOB_UNKNOWN: 404,
  MANIFEST_UNKNOWN: 404,
  NAME_UNKNOWN: 404,
  NAME_INVALID: 400,
  // No such endpoint (not an OCI code; distribution answers these with a bare 404).
  NOT_FOUND: 404,
  // Not OCI codes either: a request Node's HTTP parser cannot read (raw NUL or space in the path,
  // bad header syntax), or an absolute-form target (`GET http://host/… HTTP/1.1`): not a proxy.
  BAD_REQUEST: 400,
  // Headers not complete within `headersTimeout` (slowloris), or larger than Node accepts.
  REQUEST_TIMEOUT: 408,
  HEADERS_TOO_LARGE: 431,
  TAG_INVALID: 400,
  DIGEST_INVALID: 400,
  MANIFEST_INVALID: 400,
  PAGINATION_NUMBER_INVALID: 400,
  RANGE_INVALID: 416,
  UNAUTHORIZED: 401,
  DENIED: 403,
  UNSUPPORTED: 405,
  TOOMANYREQUESTS: 429,
  // The mirror could not reach (or make sense of) the upstream and holds no cached copy.
  UNAVAILABLE: 503,
  INTERNAL: 500,
} as const;

export type ErrorCode = keyof typeof ERROR_STATUS;

export class RegistryError extends Error {
  readonly status: number;
  constructor(
    readonly code: ErrorCode,
    message: string,
    readonly headers: Record<string, string> = {},
    readonly detail?: unknown,
  ) {
    super(message);
    this.name = 'RegistryError';
    this.status = ERROR_STATUS[code];
  }
}

export function errorBody(code: ErrorCode, message: string, detail?: unknown): string {
  return JSON.stringify({ errors: [{ code, message, ...(detail === undefined ? {} : { detail }) }] });
}
