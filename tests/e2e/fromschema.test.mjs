// New migration → From schema: the project's desired_schema fills the editor; Compare shows the
// changes object by object, a dropped column offers "Rename instead", which re-plans with the
// annotation and proves it; Create writes the pair, and Apply gives the database the schema.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ARTIFACTS, click, fill, launch, newProject, screenshot, seeText, sqlite } from './harness.mjs';

test('a migration generated from the schema wanted, with a rename chosen', async (t) => {
  const p = newProject('desired_schema = "schema.sql"\n[env.dev]\nurl = "sqlite://dev.db"\n', {
    '1_todos.sql': 'CREATE TABLE todos (id INTEGER PRIMARY KEY, title TEXT NOT NULL, note TEXT);\n',
  });
  writeFileSync(
    join(p.project, 'schema.sql'),
    'CREATE TABLE todos (id INTEGER PRIMARY KEY, title TEXT NOT NULL, remark TEXT);\nCREATE INDEX todos_title ON todos (title);\n',
  );
  const db = join(p.project, 'dev.db');
  const { browser, stop } = await launch(t, p);
  let passed = false;
  try {
    await seeText(browser, '1 pending');
    await browser.keys(['5']);
    await click(browser, 'From schema');
    await seeText(browser, 'CREATE INDEX todos_title ON todos (title);');
    await click(browser, 'Compare with the migrations');
    await seeText(browser, '2 object(s) differ');
    await seeText(browser, 'drops column todos.note');
    await click(browser, 'Rename instead');
    await seeText(browser, 'ALTER TABLE todos RENAME COLUMN note TO remark');
    await seeText(browser, 'Proven on a scratch database');
    mkdirSync(ARTIFACTS, { recursive: true });
    await screenshot(browser, join(ARTIFACTS, 'new-from-schema.png'));
    await fill(browser, 'Migration name', 'rename_note');
    await click(browser, 'Create migration');
    await seeText(browser, 'Created ');
    const up = readdirSync(join(p.project, 'migrations')).find((f) => f.endsWith('_rename_note.up.sql'));
    assert.ok(up, 'the up was written');
    assert.match(readFileSync(join(p.project, 'migrations', up), 'utf8'), /RENAME COLUMN note TO remark/);
    await browser.keys(['1']);
    await seeText(browser, '2 pending');
    await browser.keys(['a']);
    await click(browser, 'Apply', '.dialog footer');
    await seeText(browser, 'Done.');
    await click(browser, 'Close', '.dialog');
    assert.deepEqual(sqlite(db, "SELECT name FROM pragma_table_info('todos') ORDER BY cid"), [['id'], ['title'], ['remark']]);
    assert.deepEqual(sqlite(db, "SELECT name FROM sqlite_master WHERE type = 'index' AND name = 'todos_title'"), [['todos_title']]);
    passed = true;
  } finally {
    await stop(passed);
  }
});
