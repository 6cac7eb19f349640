// Closing the window during a run: the running migration finishes and is recorded, no later one
// starts, and the window goes once the run has stopped (docs/RELIABILITY.md).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { resolve } from 'node:path';
import { click, launch, newProject, pgDatabase, seeText } from './harness.mjs';

// False when there is no such window.
const window = (...args) => {
  try {
    execFileSync('python3', [resolve(import.meta.dirname, 'close-window.py'), ...args, 'Godwit']);
    return true;
  } catch {
    return false;
  }
};

test('closing the window mid-run lets the running migration finish, then closes', async (t) => {
  const db = pgDatabase();
  t.after(() => db.drop());
  const migrations = {};
  for (let i = 1; i <= 5; i++) {
    migrations[`${i}_step_${i}.up.sql`] = `CREATE TABLE step_${i} (id int);\nSELECT pg_sleep(${i === 3 ? 4 : 0.2});\n`;
    migrations[`${i}_step_${i}.down.sql`] = `DROP TABLE step_${i};\n`;
  }
  const p = newProject(`[env.pg]\nurl = "${db.url}"\n`, migrations);

  const { browser, stop } = await launch(t, p);
  let passed = false;
  try {
    await seeText(browser, '5 pending');
    await browser.keys(['a']);
    await click(browser, 'Apply', '.dialog footer');
    // Migration 3 is running (it sleeps four seconds on the server).
    await browser.waitUntil(
      () => db.query("SELECT count(*) FROM pg_stat_activity WHERE query LIKE '%pg_sleep(4)%' AND pid <> pg_backend_pid()") === '1',
      { timeout: 20000, interval: 50 },
    );
    assert.ok(window(), 'the window was there to close');
    await seeText(browser, 'Godwit closes when the running migration has finished');
    // The window goes on its own once migration 3 is done.
    const end = Date.now() + 20000;
    while (window('--check')) {
      assert.ok(Date.now() < end, 'the window stayed open after the run stopped');
      await new Promise((r) => setTimeout(r, 200));
    }
    assert.equal(db.query('SELECT string_agg(version::text, \',\' ORDER BY version) FROM _sqlx_migrations WHERE success'), '1,2,3');
    assert.equal(db.query("SELECT count(*) FROM information_schema.tables WHERE table_name LIKE 'step\\_%'"), '3');
    passed = true;
  } finally {
    await stop(passed);
  }
});
