import { describe, expect, it } from 'vitest';
import type { LintFinding } from './bindings/LintFinding';
import { byLine, diagnostics, sentence, summary } from './lint';

const f = (line: number, column: number, severity: LintFinding['severity'], file = 'a.sql'): LintFinding => ({
  rule: 'r',
  severity,
  file,
  line,
  column,
  message: 'm',
  advice: 'a',
});

describe('lint findings in the front end', () => {
  it('places a finding from its column to the end of its line', () => {
    const text = 'SELECT 1;\n  DROP TABLE a;\nSELECT 2;';
    const [d] = diagnostics(text, [f(2, 3, 'warning')]);
    expect(text.slice(d.from, d.to)).toBe('DROP TABLE a;');
    expect(d.severity).toBe('warning');
  });

  it('keeps a finding past the end of the text inside it', () => {
    const [d] = diagnostics('x', [f(9, 40, 'hint')]);
    expect(d.from).toBeLessThanOrEqual(1);
    expect(d.severity).toBe('info');
  });

  it('groups by line for one file and counts errors and warnings only', () => {
    const all = [f(1, 1, 'error'), f(1, 1, 'hint'), f(3, 1, 'warning', 'b.sql')];
    expect(byLine(all, 'a.sql').get(1)?.length).toBe(2);
    expect(byLine([f(1, 1, 'hint'), f(1, 1, 'error')], 'a.sql').get(1)?.[0].severity).toBe('error');
    expect(byLine(all, 'a.sql').has(3)).toBe(false);
    expect(summary(all)).toBe('1 error, 1 warning');
    expect(summary([])).toBe('');
  });
});

describe('a finding as a sentence', () => {
  it('ends its message with a full stop before the advice, once', () => {
    expect(sentence('running code may still use it')).toBe('running code may still use it.');
    expect(sentence('it is slow.')).toBe('it is slow.');
  });
});
