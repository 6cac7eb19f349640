/** A duration in nanoseconds for people: `850 µs`, `12 ms`, `3.4 s`; `-` when unknown (sqlx's -1). */
export function duration(ns: number | null | undefined): string {
  if (ns == null || ns < 0) return '-';
  const us = ns / 1000;
  if (us < 1000) return `${Math.round(us)} µs`;
  if (us < 10_000_000) return `${Math.round(us / 1000)} ms`;
  return `${(us / 1e6).toFixed(1)} s`;
}

/** A size for people: `912 B`, `4.2 MB`. */
export function bytes(n: number): string {
  const units = ['B', 'kB', 'MB', 'GB', 'TB'];
  let v = n;
  let u = 0;
  while (v >= 1000 && u < units.length - 1) {
    v /= 1000;
    u += 1;
  }
  return u === 0 ? `${n} B` : `${v.toFixed(1)} ${units[u]}`;
}

/** An ISO time from the database as `YYYY-MM-DD HH:MM:SS` (UTC). */
export function when(iso: string | null | undefined): string {
  if (!iso) return '';
  return iso.replace('T', ' ').replace(/(\.\d+)?(Z|[+-]\d\d:\d\d)?$/, '');
}

/** A log detail for a table cell: the long checksums a repair records shortened to their first 12
 * digits (the full ones stay in `godwit history --json`). */
export function detail(text: string): string {
  return text.replace(/\b([0-9a-f]{12})[0-9a-f]{52,}\b/g, '$1…');
}

/** A finding's kind as a badge says it: an edited applied file is "edited", not "drift" (which the
 * schema comparison reports). */
export function findingLabel(kind: string): string {
  return kind === 'drift' ? 'edited' : kind.replace(/_/g, ' ');
}
