/** Several runs of one measurement: the median is the headline, min–max the spread. */
export interface Spread {
  median: number;
  min: number;
  max: number;
  samples: number[];
}

export function spread(samples: readonly number[]): Spread {
  if (samples.length === 0) throw new Error('no samples');
  const sorted = [...samples].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  const median = sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
  return { median, min: sorted[0]!, max: sorted[sorted.length - 1]!, samples: [...samples] };
}

/** Collects samples per subject, so scenarios can interleave subjects run by run (drift hits all alike). */
export class Samples {
  private readonly bySubject = new Map<string, number[]>();

  add(subject: string, value: number): void {
    const list = this.bySubject.get(subject) ?? [];
    list.push(value);
    this.bySubject.set(subject, list);
  }

  spread(subject: string): Spread {
    const list = this.bySubject.get(subject);
    if (!list) throw new Error(`no samples for ${subject}`);
    return spread(list);
  }
}
