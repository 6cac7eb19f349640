import { describe, expect, it } from 'vitest';
import { bytes, detail, duration, findingLabel, when } from './format';

describe('format', () => {
  it('durations read like the CLI', () => {
    expect(duration(-1)).toBe('-');
    expect(duration(null)).toBe('-');
    expect(duration(850_000)).toBe('850 µs');
    expect(duration(12_300_000)).toBe('12 ms');
    expect(duration(1_651_000)).toBe('2 ms');
    expect(duration(54_856_000)).toBe('55 ms');
    expect(duration(12_300_000_000)).toBe('12.3 s');
  });
  it('sizes', () => {
    expect(bytes(912)).toBe('912 B');
    expect(bytes(4_200_000)).toBe('4.2 MB');
  });
  it('times drop fractions and zones', () => {
    expect(when('2026-11-25T04:11:07.123456Z')).toBe('2026-11-25 04:11:07');
    expect(when('2026-11-25T04:11:07+00:00')).toBe('2026-11-25 04:11:07');
  });
  it("a repair's checksums are shortened, the reason kept", () => {
    const sum = (c: string) => c.repeat(96);
    expect(detail(`checksum ${sum('a')} -> ${sum('b')}; reason: widened`)).toBe('checksum aaaaaaaaaaaa… -> bbbbbbbbbbbb…; reason: widened');
    expect(detail('undone by hand: marked rolled back')).toBe('undone by hand: marked rolled back');
  });
  it('finding kinds read as words', () => {
    expect(findingLabel('drift')).toBe('edited');
    expect(findingLabel('schema_drift')).toBe('schema drift');
  });
});
