// What a run dialog shows, built from the run's events (a reducer, so it is tested without a window).
import type { AppEvent } from './bindings/AppEvent';
import type { Guard } from './bindings/Guard';
import type { Location } from './bindings/Location';
import type { Step } from './bindings/Step';

export type StepState = 'waiting' | 'running' | 'done' | 'failed' | 'skipped';

export interface RunView {
  job: number | null;
  steps: { version: number; description: string; repeatable: boolean; state: StepState; ns: number | null }[];
  phase: string | null;
  bytes: number | null;
  failure: { message: string; location: Location | null; partial: boolean } | null;
  finished: boolean;
  cancelled: boolean;
  /** While a migration waits for a lock: who holds it, and the retries so far (cleared once it ends). */
  waiting: string | null;
  /** What the run left behind, said as it ends (a view it broke, a schema file not written); the
   * warnings before it starts are in the preview. */
  left: string[];
}

/** Whether a run dialog may run: once only (its plan is stale afterwards, and a second Ctrl+Enter
 * must not run it again), with work to do, and what its guard (the core's) asks for given: the name
 * typed, the lint errors acknowledged. The run enforces the same guard. */
export function runnable(d: { planned: number; started: boolean; guard: Guard; typed: string; lintAcknowledged?: boolean }) {
  const named = d.guard.confirm == null || d.typed === d.guard.confirm;
  const acknowledged = d.guard.lint_errors === 0 || d.lintAcknowledged === true;
  return d.planned > 0 && !d.started && named && acknowledged;
}

export function start(plan: Step[]): RunView {
  return {
    job: null,
    steps: plan.map((s) => ({ version: s.version, description: s.description, repeatable: s.repeatable, state: 'waiting', ns: null })),
    phase: null,
    bytes: null,
    failure: null,
    finished: false,
    cancelled: false,
    waiting: null,
    left: [],
  };
}

export function apply(v: RunView, e: AppEvent): RunView {
  const next = { ...v, steps: v.steps.map((s) => ({ ...s })) };
  const step = (version: number) => next.steps.find((s) => s.version === version);
  if (e.type === 'job') next.job = e.id;
  else if (e.type === 'backup') {
    // A byte count belongs to the phase it was counted in (the dump), not to the next one.
    if (e.event.event === 'phase') {
      next.phase = e.event.message;
      next.bytes = null;
    } else next.bytes = e.event.bytes;
  } else if (e.type === 'run') {
    const r = e.event;
    switch (r.event) {
      case 'migration_started': {
        const s = step(r.version);
        if (s) s.state = 'running';
        next.phase = null;
        next.waiting = null;
        break;
      }
      case 'output':
        // A tool running one of its statements (pt-online-schema-change): its latest line.
        next.phase = r.line;
        break;
      case 'waiting':
        next.waiting = `Waiting for a lock ${r.said}.`;
        break;
      case 'retrying': {
        const within = r.waited_ms != null ? ` within ${seconds(r.waited_ms)}` : '';
        // Who held it, where the database says so only when it gives up (a SQLite file's lock).
        const who = r.message.split('\n').slice(1).find((l) => l.includes(' held'));
        next.waiting = `No lock${within}; trying again in ${seconds(r.after_ms)} (${r.attempt} of ${r.retries}). Nothing of it ran.${who ? ` ${who}` : ''}`;
        break;
      }
      case 'migration_finished': {
        next.waiting = null;
        const s = step(r.version);
        if (s) {
          s.state = 'done';
          s.ns = r.duration_ns;
        }
        break;
      }
      case 'migration_failed': {
        next.waiting = null;
        const s = step(r.version);
        if (s) s.state = 'failed';
        next.failure = { message: r.message, location: r.location, partial: r.dirty };
        break;
      }
      case 'warning':
        if (r.warning.kind === 'broken_view' || r.warning.kind === 'schema_file') next.left = [...next.left, r.warning.message];
        break;
      case 'finished':
        next.finished = true;
        next.cancelled = r.cancelled;
        for (const s of next.steps) if (s.state === 'waiting') s.state = 'skipped';
        break;
      default:
        break;
    }
  }
  return next;
}

/** `2 migration(s)`, `1 repeatable file(s)`, or both: what a plan runs. */
export function counted(steps: { repeatable: boolean }[]): string {
  const r = steps.filter((s) => s.repeatable).length;
  const m = steps.length - r;
  if (r === 0) return `${m} migration(s)`;
  if (m === 0) return `${r} repeatable file(s)`;
  return `${m} migration(s) and ${r} repeatable file(s)`;
}

/** `500ms`, `2s`, `1.5s`: as the CLI writes a wait. */
function seconds(ms: number): string {
  if (ms < 1000) return `${ms}ms`;
  return ms % 1000 === 0 ? `${ms / 1000}s` : `${(ms / 1000).toFixed(1)}s`;
}
