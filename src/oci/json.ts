/** JSON bytes (an upstream body, a stored record) → the value, or undefined when they are not JSON; the caller's schema decides the rest. */
export function parseJson(bytes: Buffer): unknown {
  try {
    return JSON.parse(bytes.toString('utf8'));
  } catch {
    return undefined;
  }
}
