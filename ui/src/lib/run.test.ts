import { describe, expect, it } from 'vitest';
import { apply, runnable, start } from './run';
import type { Step } from './bindings/Step';

const plan: Step[] = [1, 2, 3].map((v) => ({ version: v, description: `m${v}`, file: `${v}_m.up.sql`, sql: '', no_transaction: false, repeatable: false, checksum: '' }));

describe('run progress', () => {
  it('follows the events to a cancel between migrations', () => {
    let v = start(plan);
    v = apply(v, { type: 'job', id: 7 });
    v = apply(v, { type: 'run', event: { event: 'started', direction: 'up', total: 3 } });
    v = apply(v, { type: 'run', event: { event: 'migration_started', direction: 'up', index: 0, total: 3, version: 1, description: 'm1', repeatable: false } });
    expect(v.steps[0].state).toBe('running');
    v = apply(v, { type: 'run', event: { event: 'migration_finished', direction: 'up', version: 1, description: 'm1', duration_ns: 5_000_000, repeatable: false } });
    v = apply(v, { type: 'run', event: { event: 'finished', direction: 'up', done: 1, total: 3, cancelled: true } });
    expect(v.job).toBe(7);
    expect(v.steps.map((s) => s.state)).toEqual(['done', 'skipped', 'skipped']);
    expect(v.cancelled && v.finished).toBe(true);
  });
  it('keeps what the run left behind, not the warnings its preview showed', () => {
    let v = start(plan);
    v = apply(v, { type: 'run', event: { event: 'warning', warning: { kind: 'revision_conflict', message: 'before' } } });
    v = apply(v, { type: 'run', event: { event: 'warning', warning: { kind: 'broken_view', message: 'view v left unreadable' } } });
    expect(v.left).toEqual(['view v left unreadable']);
  });
  it('says who is in the way while a migration waits, and forgets it once it ran', () => {
    let v = start(plan);
    v = apply(v, { type: 'run', event: { event: 'migration_started', direction: 'up', index: 0, total: 3, version: 1, description: 'm1', repeatable: false } });
    const holder = { session: 'server process 42', user: 'app', program: 'psql', state: 'idle in transaction', query: null, open_secs: 9, sure: true };
    v = apply(v, { type: 'run', event: { event: 'waiting', direction: 'up', version: 1, blockers: [holder], said: 'held by server process 42 (user app, psql)' } });
    expect(v.waiting).toBe('Waiting for a lock held by server process 42 (user app, psql).');
    v = apply(v, { type: 'run', event: { event: 'retrying', direction: 'up', version: 1, attempt: 1, retries: 3, waited_ms: 1500, after_ms: 1000, message: 'lock timeout' } });
    expect(v.waiting).toBe('No lock within 1.5s; trying again in 1s (1 of 3). Nothing of it ran.');
    // A SQLite file's holder is named only when the wait gives up: the retry line says it.
    const message = 'migration 1 (m1) could not get the write lock on dev.db: nothing of it ran.\nThe lock is held, it seems, by process 7 (python3; has the file open).';
    v = apply(v, { type: 'run', event: { event: 'retrying', direction: 'up', version: 1, attempt: 2, retries: 3, waited_ms: 1000, after_ms: 2000, message } });
    expect(v.waiting).toBe('No lock within 1s; trying again in 2s (2 of 3). Nothing of it ran. The lock is held, it seems, by process 7 (python3; has the file open).');
    v = apply(v, { type: 'run', event: { event: 'migration_finished', direction: 'up', version: 1, description: 'm1', duration_ns: 1, repeatable: false } });
    expect(v.waiting).toBeNull();
  });
  it('keeps the failure with its line', () => {
    let v = start(plan);
    const location = { file: '2_m.up.sql', line: 4, column: 23 };
    v = apply(v, { type: 'run', event: { event: 'migration_failed', direction: 'up', version: 2, message: 'boom', location, dirty: false } });
    expect(v.steps[1].state).toBe('failed');
    expect(v.failure).toEqual({ message: 'boom', location, partial: false });
  });
  it('shows backup phases and bytes before the run', () => {
    let v = start(plan);
    v = apply(v, { type: 'backup', event: { event: 'phase', message: 'backing up' } });
    v = apply(v, { type: 'backup', event: { event: 'bytes', bytes: 1024, elapsed_ms: 10 } });
    expect(v.phase).toBe('backing up');
    expect(v.bytes).toBe(1024);
    // The next phase starts without the dump's count.
    v = apply(v, { type: 'backup', event: { event: 'phase', message: 'backed up to x (1442 bytes)' } });
    expect(v.bytes).toBe(null);
  });
});

describe('runnable', () => {
  const free = { confirm: null, backup: null, lint_errors: 0 };
  const prod = { confirm: 'prod', backup: 'protected' as const, lint_errors: 0 };
  it('runs a dialog once only', () => {
    expect(runnable({ planned: 2, started: false, guard: free, typed: '' })).toBe(true);
    expect(runnable({ planned: 2, started: true, guard: free, typed: '' })).toBe(false);
  });
  it('needs work to do and the name the guard asks for', () => {
    expect(runnable({ planned: 0, started: false, guard: free, typed: '' })).toBe(false);
    expect(runnable({ planned: 1, started: false, guard: prod, typed: 'production' })).toBe(false);
    expect(runnable({ planned: 1, started: false, guard: prod, typed: 'prod' })).toBe(true);
  });
  it('runs lint errors the guard counts only once acknowledged', () => {
    const withErrors = { planned: 1, started: false, typed: 'prod', guard: { ...prod, lint_errors: 2 } };
    expect(runnable(withErrors)).toBe(false);
    expect(runnable({ ...withErrors, lintAcknowledged: true })).toBe(true);
    // Not asked for (an environment that is not protected): shown, not in the way.
    expect(runnable({ planned: 1, started: false, typed: '', guard: free })).toBe(true);
  });
});
