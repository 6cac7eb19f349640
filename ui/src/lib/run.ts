// What a run dialog shows, built from the run's events (a reducer, so it is tested without a window).
import type { AppEvent } from './bindings/AppEvent';
import type { Location } from './bindings/Location';
import type { Step } from './bindings/Step';

export type StepState = 'waiting' | 'running' | 'done' | 'failed' | 'skipped';

export interface RunView {
  job: number | null;
  steps: { version: number; description: string; state: StepState; ns: number | null }[];
  phase: string | null;
  bytes: number | null;
  failure: { message: string; location: Location | null; partial: boolean } | null;
  finished: boolean;
  cancelled: boolean;
}

/** Whether a run dialog may run: once only (its plan is stale afterwards, and a second Ctrl+Enter
 * must not run it again), with work to do, and, for a protected environment, its name typed and
 * any lint errors acknowledged. */
export function runnable(d: {
  planned: number;
  started: boolean;
  env: { name: string; protected: boolean };
  typed: string;
  lintErrors?: number;
  lintAcknowledged?: boolean;
}) {
  const protectedOk = !d.env.protected || (d.typed === d.env.name && (!d.lintErrors || d.lintAcknowledged === true));
  return d.planned > 0 && !d.started && protectedOk;
}

export function start(plan: Step[]): RunView {
  return {
    job: null,
    steps: plan.map((s) => ({ version: s.version, description: s.description, state: 'waiting', ns: null })),
    phase: null,
    bytes: null,
    failure: null,
    finished: false,
    cancelled: false,
  };
}

export function apply(v: RunView, e: AppEvent): RunView {
  const next = { ...v, steps: v.steps.map((s) => ({ ...s })) };
  const step = (version: number) => next.steps.find((s) => s.version === version);
  if (e.type === 'job') next.job = e.id;
  else if (e.type === 'backup') {
    if (e.event.event === 'phase') next.phase = e.event.message;
    else next.bytes = e.event.bytes;
  } else if (e.type === 'run') {
    const r = e.event;
    switch (r.event) {
      case 'migration_started': {
        const s = step(r.version);
        if (s) s.state = 'running';
        next.phase = null;
        break;
      }
      case 'migration_finished': {
        const s = step(r.version);
        if (s) {
          s.state = 'done';
          s.ns = r.duration_ns;
        }
        break;
      }
      case 'migration_failed': {
        const s = step(r.version);
        if (s) s.state = 'failed';
        next.failure = { message: r.message, location: r.location, partial: r.dirty };
        break;
      }
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
