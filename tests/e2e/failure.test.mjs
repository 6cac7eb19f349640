// Scenario 5: a failing migration. The window shows the database's message and the file's line;
// the database is as it was before that migration, and fixing the file is what it offers; History
// shows the failure.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { click, launch, newProject, pgDatabase, seeText, windowText } from './harness.mjs';

test('a failing migration is reported with its line and changes nothing', async (t) => {
  const db = pgDatabase();
  t.after(() => db.drop());
  const p = newProject(`[env.pg]\nurl = "${db.url}"\n`, {
    '1_items.up.sql': 'CREATE TABLE items (id int);\n',
    '1_items.down.sql': 'DROP TABLE items;\n',
    '2_broken.up.sql': '-- adds a table, then reads a column that is not there\nCREATE TABLE tags (id int);\nINSERT INTO items VALUES (1);\nSELECT nope FROM items;\n',
    '2_broken.down.sql': 'DROP TABLE tags;\n',
  });

  const { browser, stop } = await launch(t, p);
  let passed = false;
  try {
    await seeText(browser, '2 pending');
    await browser.keys(['a']);
    await seeText(browser, 'SELECT nope FROM items;');
    await click(browser, 'Apply', '.dialog footer');
    await seeText(browser, 'column "nope" does not exist');
    await seeText(browser, '2_broken.up.sql');
    const shown = await windowText(browser);
    assert.match(shown, /line 4, column 8/, shown);
    // Fixing the file comes first: nothing of it is in the database, and migration 1 stays.
    assert.match(shown, /Fix 2_broken\.up\.sql, then apply again \(the 1 migration\(s\) applied before it stay applied\)/, shown);

    // Migration 1 is in; migration 2 left nothing behind.
    assert.equal(db.query("SELECT count(*) FROM information_schema.tables WHERE table_name IN ('items', 'tags')"), '1');
    assert.equal(db.query('SELECT count(*) FROM items'), '0');
    assert.equal(db.query('SELECT version FROM _sqlx_migrations'), '1');

    // The status behind the dialog is read again as the run ends, before Close.
    await seeText(browser, '1 applied');
    await click(browser, 'Close', '.dialog');
    await seeText(browser, '1 pending');
    await browser.keys(['2']);
    await seeText(browser, '2 event(s)');
    const rows = await browser.execute(() => [...document.querySelectorAll('tbody tr')].map((r) => r.innerText));
    assert.ok(rows.some((r) => r.includes('failed') && r.includes('nope')), rows.join('\n'));
    passed = true;
  } finally {
    await stop(passed);
  }
});
