// Scenario 4: back up & apply on a protected MariaDB environment. The typed confirmation refuses a
// wrong name and accepts the right one, the backup appears in Backups, and Restore brings the data back.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { click, fill, launch, mysqlDatabase, newProject, seeText, windowText } from './harness.mjs';

test('back up and apply on a protected MariaDB, then restore', async (t) => {
  const db = mysqlDatabase();
  t.after(() => db.drop());
  db.query("CREATE TABLE items (id int PRIMARY KEY, name varchar(40)); INSERT INTO items VALUES (1, 'pen'), (2, 'ink'), (3, 'nib');");
  const p = newProject(`[env.prod]\nurl = "${db.url}"\nprotected = true\n`, {
    '1_drop_items.up.sql': 'DROP TABLE items;\n',
    '1_drop_items.down.sql': 'CREATE TABLE items (id int PRIMARY KEY, name varchar(40));\n',
  });

  const { browser, stop } = await launch(t, p);
  let passed = false;
  try {
    await seeText(browser, '1 pending');
    await browser.keys(['b']);
    await seeText(browser, 'A backup is taken first');
    const run = await browser.$('.dialog footer button.primary');
    assert.equal(await run.isEnabled(), false, 'no run before the name is typed');
    await fill(browser, 'Confirm environment name', 'production');
    await seeText(browser, 'That is not “prod”');
    assert.equal(await run.isEnabled(), false, 'a wrong name is refused');
    await fill(browser, 'Confirm environment name', 'prod');
    await browser.waitUntil(() => run.isEnabled(), { timeout: 5000 });
    await run.click();
    await seeText(browser, 'Done.');
    // The outcome names the backup taken first, as the CLI does.
    assert.match(await windowText(browser), /Backup \d{8}-\d{6}-\w+ was taken first/);
    await click(browser, 'Close', '.dialog');
    await seeText(browser, '1 applied');
    assert.equal(db.query("SELECT count(*) FROM information_schema.tables WHERE table_schema = DATABASE() AND table_name = 'items'"), '0');

    await browser.keys(['3']);
    await browser.waitUntil(async () => (await browser.$$('tbody tr button.danger')).length === 1, { timeout: 15000 });
    const listed = await windowText(browser);
    assert.match(listed, /mariadb-dump|mysqldump/, listed);
    await click(browser, 'Restore…', 'tbody');
    await fill(browser, 'Confirm restore', 'prod');
    await click(browser, 'Restore', '.confirm');
    await seeText(browser, 'Restored prod from');
    // The migration that dropped the table is pending again, and the restore says so.
    await seeText(browser, '1 migration(s) are pending again');
    assert.equal(db.query('SELECT group_concat(name ORDER BY id) FROM items'), 'pen,ink,nib');

    await browser.keys(['1']);
    await seeText(browser, '0 applied');
    await seeText(browser, '1 pending');
    passed = true;
  } finally {
    await stop(passed);
  }
});
