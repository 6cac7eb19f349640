// A fleet's table as it fills in: rows by index from the run's events, counts by state, filters.
import type { AppEvent } from './bindings/AppEvent';
import type { MemberRow } from './bindings/MemberRow';
import type { MemberState } from './bindings/MemberState';

export const STATES: MemberState[] = ['running', 'at_head', 'behind', 'failed', 'unreachable', 'skipped', 'waiting'];

export const LABELS: Record<MemberState, string> = {
  waiting: 'waiting',
  running: 'running',
  at_head: 'at head',
  behind: 'behind',
  failed: 'failed',
  unreachable: 'unreachable',
  skipped: 'skipped',
};

/** The rows after one event of a fleet run (other events leave them as they are). */
export function applyEvent(rows: MemberRow[], e: AppEvent): MemberRow[] {
  if (e.type !== 'fleet') return rows;
  const next = rows.length > e.index ? rows : [...rows, ...Array(e.index + 1 - rows.length).fill(null)];
  next[e.index] = e.row;
  return next;
}

/** How many rows are in each state. */
export function countStates(rows: (MemberRow | null)[]): Record<MemberState, number> {
  const c = Object.fromEntries(STATES.map((s) => [s, 0])) as Record<MemberState, number>;
  for (const r of rows) if (r) c[r.state] += 1;
  return c;
}

/** The rows a filter shows (null: all), with their indexes. */
export function filtered(rows: (MemberRow | null)[], only: MemberState | null, text: string): { row: MemberRow; index: number }[] {
  const q = text.trim().toLowerCase();
  const out: { row: MemberRow; index: number }[] = [];
  rows.forEach((row, index) => {
    if (!row) return;
    if (only && row.state !== only) return;
    if (q && !row.name.toLowerCase().includes(q)) return;
    out.push({ row, index });
  });
  return out;
}
