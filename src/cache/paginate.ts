/** One page of a sorted list: entries after `last`, at most `n`; `more` when some remain. */
export function paginate(sorted: readonly string[], n: number | undefined, last: string | undefined): { items: string[]; more: boolean } {
  const after = last === undefined ? sorted : sorted.filter((s) => s > last);
  if (n === undefined || after.length <= n) return { items: [...after], more: false };
  return { items: after.slice(0, n), more: true };
}
