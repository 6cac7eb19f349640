// Scenario 3: a migration from the "add_column" template through its form, its SQL edited, applied
// to PostgreSQL and rolled back; the column comes and goes.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { click, fill, launch, newProject, pgDatabase, seeText } from './harness.mjs';

test('add a column from a template, apply it, roll it back', async (t) => {
  const db = pgDatabase();
  t.after(() => db.drop());
  db.query('CREATE TABLE accounts (id int PRIMARY KEY)');
  const p = newProject(`[env.pg]\nurl = "${db.url}"\n`);
  const column = () => db.query("SELECT col_description('accounts'::regclass, attnum) FROM pg_attribute WHERE attrelid = 'accounts'::regclass AND attname = 'nickname'");

  const { browser, stop } = await launch(t, p);
  let passed = false;
  try {
    await seeText(browser, 'No migrations yet');
    await browser.keys(['5']);
    await fill(browser, 'Template', 'add_column');
    await fill(browser, 'table', 'accounts');
    await fill(browser, 'column', 'nickname');
    await click(browser, 'Fill from template');
    await seeText(browser, 'ALTER TABLE accounts ADD COLUMN nickname TEXT;');
    await seeText(browser, 'ALTER TABLE accounts DROP COLUMN nickname;');

    // Edit the up SQL in the editor: a second statement at its end.
    const editor = await browser.$('[aria-label="up-sql"]');
    await editor.click();
    await browser.keys(['Control', 'End']);
    await browser.keys(['Control']);
    await editor.addValue("COMMENT ON COLUMN accounts.nickname IS 'shown name';");
    await click(browser, 'Create migration');
    await seeText(browser, 'Created ');
    const files = readdirSync(join(p.project, 'migrations'));
    const up = files.find((f) => f.endsWith('_add_nickname_to_accounts.up.sql'));
    assert.ok(up && files.includes(up.replace('.up.', '.down.')), files.join(', '));
    assert.match(readFileSync(join(p.project, 'migrations', up), 'utf8'), /ADD COLUMN nickname TEXT;\s*COMMENT ON COLUMN accounts\.nickname IS 'shown name';/);

    await browser.keys(['1']);
    await seeText(browser, '1 pending');
    await browser.keys(['a']);
    await seeText(browser, "COMMENT ON COLUMN accounts.nickname IS 'shown name';");
    await click(browser, 'Apply', '.dialog footer');
    await seeText(browser, 'Done.');
    await click(browser, 'Close', '.dialog');
    await seeText(browser, '1 applied');
    assert.equal(column(), 'shown name');

    await browser.keys(['r']);
    await seeText(browser, 'DROP COLUMN nickname');
    await click(browser, 'Roll back', '.dialog footer');
    await seeText(browser, 'Done.');
    await click(browser, 'Close', '.dialog');
    await seeText(browser, '0 applied');
    assert.equal(column(), '', 'the column is gone');
    assert.equal(db.query('SELECT count(*) FROM _sqlx_migrations'), '0');
    passed = true;
  } finally {
    await stop(passed);
  }
});

test('a template is rendered when Create is clicked unfilled, and an empty up is written only when asked', async (t) => {
  const p = newProject('[env.dev]\nurl = "sqlite://dev.db"\n');
  const { browser, stop } = await launch(t, p);
  let passed = false;
  try {
    await seeText(browser, 'No migrations yet');
    await browser.keys(['5']);
    await fill(browser, 'Template', 'add_column');
    await fill(browser, 'table', 'accounts');
    await fill(browser, 'column', 'nickname');
    // No "Fill from template": Create renders it all the same.
    await click(browser, 'Create migration');
    await seeText(browser, 'Created ');
    const files = () => readdirSync(join(p.project, 'migrations'));
    const up = files().find((f) => f.endsWith('.up.sql'));
    assert.match(readFileSync(join(p.project, 'migrations', up), 'utf8'), /ALTER TABLE accounts ADD COLUMN nickname/);

    // A raw migration with no SQL: refused, nothing written, until the person says to write it empty.
    await fill(browser, 'Template', 'raw');
    await fill(browser, 'Migration name', 'later');
    await click(browser, 'Create migration');
    await seeText(browser, 'has no statement');
    assert.equal(files().filter((f) => f.includes('_later.')).length, 0, files().join(', '));
    await click(browser, 'Create it empty');
    await browser.waitUntil(async () => files().filter((f) => f.includes('_later.')).length === 2, { timeout: 15000 });
    passed = true;
  } finally {
    await stop(passed);
  }
});

// A project on two databases: a template whose down differs there writes MariaDB its own down.
test('a SQLite dev and a MariaDB prod: the index template writes each its own down', async (t) => {
  const p = newProject('[env.dev]\nurl = "sqlite://dev.db"\n\n[env.prod]\nurl = "mysql://root@127.0.0.1:3306/unused"\n');
  const { browser, stop } = await launch(t, p);
  let passed = false;
  try {
    await seeText(browser, 'No migrations yet');
    await browser.keys(['5']);
    await fill(browser, 'Template', 'add_index');
    await fill(browser, 'table', 't');
    await fill(browser, 'columns', 'a');
    await click(browser, 'Fill from template');
    await seeText(browser, 'DROP INDEX t_a_idx;');
    await seeText(browser, 'MySQL/MariaDB gets its own down');
    await click(browser, 'Create migration');
    await seeText(browser, '.down.sql, mysql/');
    const own = readdirSync(join(p.project, 'migrations', 'mysql'));
    assert.equal(own.length, 1, own.join(', '));
    assert.match(readFileSync(join(p.project, 'migrations', 'mysql', own[0]), 'utf8'), /'DROP INDEX t_a_idx ON t'/);
    passed = true;
  } finally {
    await stop(passed);
  }
});
