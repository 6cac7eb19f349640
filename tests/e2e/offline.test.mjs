// An environment whose database does not exist: the window says why it could not be read, still
// lists the migration files (each one's state unknown), and its "Create the database" button makes it; then the status is real.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { click, launch, newProject, pgDatabase, seeText } from './harness.mjs';

test('a missing database shows the files under the error, and is created from there', async (t) => {
  const db = pgDatabase();
  db.drop();
  t.after(() => db.drop());
  const p = newProject(`[env.pg]\nurl = "${db.url}"\n`, {
    '1_a.up.sql': 'CREATE TABLE a (id int);\n',
    '1_a.down.sql': 'DROP TABLE a;\n',
    '2_b.up.sql': 'CREATE TABLE b (id int);\n',
    '2_b.down.sql': 'DROP TABLE b;\n',
  });

  const { browser, stop } = await launch(t, p);
  let passed = false;
  try {
    await seeText(browser, 'does not exist');
    await seeText(browser, '2 migration file(s)');
    await seeText(browser, 'which are applied is not known');
    // Each file's state is unknown, not pending: it may well be applied.
    const states = () => browser.execute(() => [...document.querySelectorAll('.status .badge')].map((b) => b.textContent));
    assert.deepEqual(await states(), ['unknown', 'unknown']);
    await click(browser, 'Create the database');
    await seeText(browser, '2 pending');
    assert.deepEqual(await states(), ['pending', 'pending']);
    assert.equal(db.query("SELECT count(*) FROM pg_database WHERE datname = current_database()"), '1');
    passed = true;
  } finally {
    await stop(passed);
  }
});
