// Scenario 6: cancel a run of 200 migrations midway. It stops between migrations, and the status
// shown is the database's true state. A second Cancel stops a long statement on the server, as a
// second Ctrl-C does in the CLI.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { click, launch, newProject, pgDatabase, seeText, windowText } from './harness.mjs';

test('cancelling a long run stops between migrations', async (t) => {
  const db = pgDatabase();
  t.after(() => db.drop());
  const migrations = {};
  for (let i = 1; i <= 200; i++) {
    migrations[`${i}_step_${i}.up.sql`] = `CREATE TABLE step_${i} (id int);\nSELECT pg_sleep(0.03);\n`;
    migrations[`${i}_step_${i}.down.sql`] = `DROP TABLE step_${i};\n`;
  }
  const p = newProject(`[env.pg]\nurl = "${db.url}"\n`, migrations);

  const { browser, stop } = await launch(t, p);
  let passed = false;
  try {
    await seeText(browser, '200 pending');
    await browser.keys(['a']);
    await seeText(browser, '200 migration(s) will run');
    await click(browser, 'Apply', '.dialog footer');
    await browser.waitUntil(async () => (await browser.$$('.progress li.done')).length >= 10, { timeout: 30000 });
    await click(browser, 'Cancel', '.dialog header');
    await seeText(browser, 'Cancelled:');
    const ran = Number(/Cancelled: (\d+) ran/.exec(await windowText(browser))[1]);
    assert.ok(ran >= 10 && ran < 200, `ran ${ran}`);
    // Ctrl+Enter on a finished dialog does not start the rest.
    await browser.keys(['Control', 'Enter']);
    await browser.keys(['Control']);
    await new Promise((r) => setTimeout(r, 500));

    // Nothing half-done: every recorded migration's table exists, and no other.
    assert.equal(db.query('SELECT count(*) FROM _sqlx_migrations WHERE success'), String(ran));
    assert.equal(db.query("SELECT count(*) FROM information_schema.tables WHERE table_name LIKE 'step\\_%'"), String(ran));
    await click(browser, 'Close', '.dialog');
    await seeText(browser, `${ran} applied`);
    await seeText(browser, `${200 - ran} pending`);
    passed = true;
  } finally {
    await stop(passed);
  }
});

test('a second Cancel stops the running statement on the server', async (t) => {
  const db = pgDatabase();
  t.after(() => db.drop());
  const p = newProject(`[env.pg]\nurl = "${db.url}"\n`, {
    '1_slow.up.sql': 'CREATE TABLE slow (id int);\nSELECT pg_sleep(60);\n',
    '1_slow.down.sql': 'DROP TABLE slow;\n',
    '2_after.up.sql': 'CREATE TABLE after_it (id int);\n',
    '2_after.down.sql': 'DROP TABLE after_it;\n',
  });

  const { browser, stop } = await launch(t, p);
  let passed = false;
  try {
    await seeText(browser, '2 pending');
    await browser.keys(['a']);
    await seeText(browser, '2 migration(s) will run');
    await click(browser, 'Apply', '.dialog footer');
    // The statement is on the server.
    await browser.waitUntil(() => db.query("SELECT count(*) FROM pg_stat_activity WHERE query LIKE '%pg_sleep(60)%' AND pid <> pg_backend_pid()") !== '0', { timeout: 30000 });
    await click(browser, 'Cancel', '.dialog header');
    await seeText(browser, 'Stopping after the current migration');
    const started = Date.now();
    await click(browser, 'Stop it now', '.dialog header');
    await seeText(browser, 'stopped on the server at your request');
    assert.ok(Date.now() - started < 30000, 'it did not wait for the statement to finish');
    const shown = await windowText(browser);
    assert.doesNotMatch(shown, /Fix 1_slow/, 'a cancel is not a file to fix');
    // It ran in a transaction: nothing of it, and nothing after it.
    assert.equal(db.query("SELECT count(*) FROM information_schema.tables WHERE table_name IN ('slow', 'after_it')"), '0');
    await click(browser, 'Close', '.dialog');
    await seeText(browser, '2 pending');
    passed = true;
  } finally {
    await stop(passed);
  }
});
