import { describe, expect, it } from 'vitest';
import type { MemberRow } from './bindings/MemberRow';
import { applyEvent, countStates, filtered } from './fleet';

const row = (name: string, state: MemberRow['state']): MemberRow => ({
  name, database: `postgres://db/${name}`, server: 'postgres://app@db:5432', state,
  version: null, pending: 0, done: 0, running: null, ms: null, backup: null, detail: null, error: null,
});

describe('a fleet table', () => {
  it('puts each event row at its index and counts states', () => {
    let rows: MemberRow[] = [];
    rows = applyEvent(rows, { type: 'fleet', index: 1, row: row('b', 'waiting') });
    rows = applyEvent(rows, { type: 'fleet', index: 0, row: row('a', 'failed') });
    rows = applyEvent(rows, { type: 'fleet', index: 1, row: row('b', 'at_head') });
    rows = applyEvent(rows, { type: 'job', id: 3 });
    expect(rows.map((r) => r.name)).toEqual(['a', 'b']);
    expect(countStates(rows)).toMatchObject({ failed: 1, at_head: 1, waiting: 0 });
  });

  it('filters by state and by name, keeping indexes', () => {
    const rows = [row('tenant_1', 'at_head'), row('tenant_2', 'failed'), row('other', 'failed')];
    expect(filtered(rows, 'failed', '').map((r) => r.index)).toEqual([1, 2]);
    expect(filtered(rows, 'failed', 'TENANT').map((r) => r.row.name)).toEqual(['tenant_2']);
    expect(filtered(rows, null, '').length).toBe(3);
  });
});
