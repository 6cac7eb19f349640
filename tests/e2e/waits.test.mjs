// A run on a busy database: another program holds the SQLite file's write lock. The run dialog's
// preview says how long each statement waits and how often it is tried again; while the holder
// keeps the lock, the dialog says the migration gave up, who holds the lock and when it tries
// again; once the holder lets go, the migration applies.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { ARTIFACTS, click, fill, launch, newProject, screenshot, seeText, sqlite } from './harness.mjs';

const HOLD = `
import sqlite3, sys, time
c = sqlite3.connect(sys.argv[1], isolation_level=None)
c.execute('BEGIN IMMEDIATE')
c.execute('INSERT INTO a VALUES (1)')
print('locked', flush=True)
time.sleep(float(sys.argv[2]))
c.execute('COMMIT')
`;

test('a migration that cannot get its lock waits, says who holds it, and applies once it is free', async (t) => {
  const p = newProject('[env.dev]\nurl = "sqlite://dev.db"\nlock_wait = "1s"\nlock_retries = 4\n', {
    '1_a.sql': 'CREATE TABLE a (id INTEGER);\n',
    '2_b.sql': 'CREATE TABLE b (id INTEGER);\n',
  });
  const db = join(p.project, 'dev.db');
  const { browser, stop } = await launch(t, p);
  let passed = false;
  let holder;
  try {
    await seeText(browser, '2 pending');
    await browser.keys(['a']);
    await seeText(browser, 'Waits: each statement waits at most 1s for a lock');
    await fill(browser, 'Target version', '1');
    await click(browser, 'Apply', '.dialog footer');
    await seeText(browser, 'Done.');
    await click(browser, 'Close', '.dialog');

    holder = spawn('python3', ['-c', HOLD, db, '4']);
    await new Promise((ok) => holder.stdout.once('data', ok));
    await browser.keys(['a']);
    await click(browser, 'Apply', '.dialog footer');
    await seeText(browser, 'No lock within 1s; trying again');
    await seeText(browser, `process ${holder.pid} (python3`);
    mkdirSync(ARTIFACTS, { recursive: true });
    await screenshot(browser, join(ARTIFACTS, 'waits-retrying.png'));
    await seeText(browser, 'Done.', 30000);
    assert.deepEqual(sqlite(db, 'SELECT version FROM _sqlx_migrations ORDER BY version'), [[1], [2]]);
    passed = true;
  } finally {
    holder?.kill();
    await stop(passed);
  }
});
