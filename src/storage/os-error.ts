/**
 * "open /var/lib/x: permission denied" from Node's "EACCES: permission denied, open '/var/lib/x'":
 * the operation and path first, then the OS's own words, as operators know them from the shell.
 */
export function osErrorText(err: unknown): string {
  const e = err as NodeJS.ErrnoException | null | undefined; // anything can be thrown
  if (typeof e?.code === 'string' && e.syscall && e.path) {
    const reason = e.message.replace(/^[A-Z]+: /, '').replace(/, [a-z]+ '.*'$/, '');
    return `${e.syscall} ${e.path}: ${reason}`;
  }
  return err instanceof Error ? err.message : String(err);
}
