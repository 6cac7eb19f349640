// Lint findings as the front end shows them: on an editor's lines, beside a preview's lines, and
// counted for a summary. The findings themselves come from the core (`godwit lint`).
import type { LintFinding } from './bindings/LintFinding';

export interface LineDiagnostic {
  from: number;
  to: number;
  severity: 'error' | 'warning' | 'info';
  message: string;
  source: string;
}

/** Each finding placed in `text`: from its line and column to the end of that line. */
export function diagnostics(text: string, findings: LintFinding[]): LineDiagnostic[] {
  const starts = [0];
  for (let i = 0; i < text.length; i++) if (text[i] === '\n') starts.push(i + 1);
  return findings.map((f) => {
    const line = Math.min(Math.max(f.line, 1), starts.length) - 1;
    const lineEnd = line + 1 < starts.length ? starts[line + 1] - 1 : text.length;
    const from = Math.min(starts[line] + Math.max(f.column - 1, 0), lineEnd);
    return {
      from,
      to: Math.max(lineEnd, from),
      severity: f.severity === 'hint' ? 'info' : f.severity,
      message: `${f.message}\nInstead: ${f.advice}`,
      source: f.rule,
    };
  });
}

const ORDER = { error: 0, warning: 1, hint: 2 } as const;

/** The worst severity among `findings` (they are not empty). */
export function worst(findings: LintFinding[]): LintFinding['severity'] {
  return findings.reduce((w, f) => (ORDER[f.severity] < ORDER[w] ? f.severity : w), findings[0].severity);
}

/** The findings on each line of one file, by line number, worst first. */
export function byLine(findings: LintFinding[], file: string): Map<number, LintFinding[]> {
  const out = new Map<number, LintFinding[]>();
  for (const f of findings.filter((f) => f.file === file)) out.set(f.line, [...(out.get(f.line) ?? []), f]);
  for (const line of out.values()) line.sort((a, b) => ORDER[a.severity] - ORDER[b.severity]);
  return out;
}

export function counts(findings: LintFinding[]): { error: number; warning: number; hint: number } {
  const c = { error: 0, warning: 0, hint: 0 };
  for (const f of findings) c[f.severity]++;
  return c;
}

/** "1 error, 2 warnings" (hints left out: they are shown, not counted against a run). */
export function summary(findings: LintFinding[]): string {
  const c = counts(findings);
  const part = (n: number, one: string) => `${n} ${one}${n === 1 ? '' : 's'}`;
  return [c.error && part(c.error, 'error'), c.warning && part(c.warning, 'warning')].filter(Boolean).join(', ');
}

/** A finding's message as a sentence of its own, so the advice after it does not run on. */
export function sentence(message: string): string {
  const m = message.trimEnd();
  return /[.!?:]$/.test(m) ? m : `${m}.`;
}
