import { describe, expect, it } from 'vitest';
import { visibleRange } from './virtual';

describe('visibleRange', () => {
  it('draws only what is in view on 10,000 rows', () => {
    const r = visibleRange(50_000, 600, 30, 10_000);
    expect(r.first).toBe(1658);
    expect(r.last).toBe(1695);
    expect(r.last - r.first).toBeLessThan(50);
    expect(r.offset).toBe(1658 * 30);
    expect(r.total).toBe(300_000);
  });
  it('clamps at both ends', () => {
    expect(visibleRange(0, 600, 30, 5)).toEqual({ first: 0, last: 5, offset: 0, total: 150 });
    expect(visibleRange(1e9, 600, 30, 100).last).toBe(100);
  });
});
