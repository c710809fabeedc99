import { z } from 'zod';

const SIZE_UNITS: Record<string, number> = {
  '': 1,
  b: 1,
  k: 1e3,
  kb: 1e3,
  m: 1e6,
  mb: 1e6,
  g: 1e9,
  gb: 1e9,
  t: 1e12,
  tb: 1e12,
  ki: 2 ** 10,
  kib: 2 ** 10,
  mi: 2 ** 20,
  mib: 2 ** 20,
  gi: 2 ** 30,
  gib: 2 ** 30,
  ti: 2 ** 40,
  tib: 2 ** 40,
};
const DURATION_UNITS: Record<string, number> = { ms: 1, '': 1000, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };

function parseWithUnits(units: Record<string, number>, value: string): number | undefined {
  const m = /^\s*(\d+(?:\.\d+)?)\s*([a-zA-Z]*)\s*$/.exec(value);
  const factor = m ? units[m[2]!.toLowerCase()] : undefined;
  return factor === undefined ? undefined : Math.round(Number(m![1]) * factor);
}

/** Bytes, as a number or a string with an SI or IEC unit: 1048576, "25MiB", "50GiB", "1.5GB". */
export const sizeSchema = z.union([z.number().int().nonnegative(), z.string()]).transform((v, ctx) => {
  const n = typeof v === 'number' ? v : parseWithUnits(SIZE_UNITS, v);
  if (n === undefined) ctx.addIssue({ code: 'custom', message: `not a size: ${JSON.stringify(v)} (try "25MiB")` });
  return n ?? 0;
});

/** Milliseconds, from seconds as a number or a string with a unit: 300, "5m", "24h", "500ms". */
export const durationSchema = z.union([z.number().nonnegative(), z.string()]).transform((v, ctx) => {
  const n = typeof v === 'number' ? v * 1000 : parseWithUnits(DURATION_UNITS, v);
  if (n === undefined) ctx.addIssue({ code: 'custom', message: `not a duration: ${JSON.stringify(v)} (try "5m")` });
  return n ?? 0;
});
