// The Schema screen: Verify proves every down on a scratch database and opens the diff of one that
// forgets an index; Compare shows what differs between two environments; the schema is listed; Check
// finds an index made by hand, and sets Alembic's leftover table apart. A verify that stops at a
// failing up names what it did not check; Compare across databases says what is only spelt apart.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { applyAll, click, fill, launch, newProject, pgDatabase, seeText, sqlite } from './harness.mjs';

test('verify every down and compare two environments', async (t) => {
  const p = newProject('[env.dev]\nurl = "sqlite://dev.db"\n[env.other]\nurl = "sqlite://other.db"\n', {
    '1_items.up.sql': 'CREATE TABLE items (id INTEGER, name TEXT);\n',
    '1_items.down.sql': 'DROP TABLE items;\n',
    '2_idx.up.sql': 'CREATE INDEX items_name ON items (name);\n',
    '2_idx.down.sql': 'SELECT 1;\n',
  });
  const scratch = () => readdirSync(tmpdir()).filter((f) => f.startsWith('godwit_scratch_'));
  const before = scratch().length;
  const { browser, stop } = await launch(t, p);
  let passed = false;
  try {
    await seeText(browser, '2 pending');
    await browser.keys(['6']);
    await click(browser, 'Verify');
    await seeText(browser, '1 problem(s)');
    await seeText(browser, 'its down does not restore the schema');
    await seeText(browser, 'items.items_name');
    await seeText(browser, 'CREATE INDEX items_name ON items (name)');
    assert.equal(scratch().length, before, 'the scratch database was dropped');

    // dev gets its migrations; other has none: Compare says what differs.
    await browser.keys(['1']);
    await applyAll(browser);
    await browser.keys(['6']);
    await fill(browser, 'Compare with', 'other');
    await click(browser, 'Compare');
    await seeText(browser, 'object(s) differ');
    await seeText(browser, 'only dev');
    await click(browser, "Show dev's schema");
    await seeText(browser, 'CREATE INDEX items_name ON items (name)');

    // An index made by hand on dev: Check finds it against what the migrations make. Alembic's
    // table, left from before the switch, is said once and not counted.
    sqlite(join(p.project, 'dev.db'), 'CREATE INDEX by_hand ON items (id)');
    sqlite(join(p.project, 'dev.db'), 'CREATE TABLE alembic_version (version_num VARCHAR(32) NOT NULL PRIMARY KEY)');
    await browser.keys(['4']);
    await click(browser, 'Compare the schema with what the migrations make');
    await seeText(browser, '1 object(s) changed by hand');
    await seeText(browser, 'items.by_hand');
    await seeText(browser, "is Alembic's history table");
    assert.equal(scratch().length, before, 'the scratch database was dropped');
    passed = true;
  } finally {
    await stop(passed);
  }
});

test('a verify that stops names what it did not check; compare across databases', async (t) => {
  const pg = pgDatabase();
  t.after(() => pg.drop());
  const todos = 'CREATE TABLE todos (id INTEGER PRIMARY KEY, title VARCHAR(200) NOT NULL)';
  const p = newProject(`[env.dev]\nurl = "sqlite://dev.db"\n[env.pg]\nurl = "${pg.url}"\n`, {
    '1_todos.up.sql': `${todos};\n`,
    '1_todos.down.sql': 'DROP TABLE todos;\n',
    '2_again.up.sql': 'CREATE TABLE todos (id INTEGER);\n',
    '2_again.down.sql': 'DROP TABLE todos;\n',
    '3_later.up.sql': 'CREATE TABLE later (id INTEGER);\n',
    '3_later.down.sql': 'DROP TABLE later;\n',
  });
  const { browser, stop } = await launch(t, p);
  let passed = false;
  try {
    await seeText(browser, '3 pending');
    await browser.keys(['6']);
    await click(browser, 'Verify');
    await seeText(browser, '1 of 1 migration(s) verified restore the schema with their down; 1 problem(s).');
    await seeText(browser, "1 not verified (2_again.up.sql's up fails, and every migration after it needs what it makes): 3_later.up.sql");

    // The same table on SQLite and PostgreSQL: the same schema, spelt apart.
    sqlite(join(p.project, 'dev.db'), todos);
    pg.query(todos);
    await fill(browser, 'Compare with', 'pg');
    await click(browser, 'Compare');
    await seeText(browser, 'dev and pg have the same schema.');
    await (await browser.$('summary*=2 object(s) alike, spelt differently by each database')).click();
    await seeText(browser, 'character varying(200)');
    passed = true;
  } finally {
    await stop(passed);
  }
});
