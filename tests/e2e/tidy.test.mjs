// The project menu's Baseline and Squash: each shows its dry run first, then does it.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { applyAll, click, fill, launch, newProject, seeText, sqlite } from './harness.mjs';

test('Baseline writes a database first migration; Squash replaces old ones', async (t) => {
  const p = newProject('[env.dev]\nurl = "sqlite://dev.db"\n\n[env.legacy]\nurl = "sqlite://legacy.db"\n', {
    '1_items.up.sql': 'CREATE TABLE items (id INTEGER);\n',
    '1_items.down.sql': 'DROP TABLE items;\n',
    '2_tags.up.sql': 'CREATE TABLE tags (id INTEGER);\n',
    '2_tags.down.sql': 'DROP TABLE tags;\n',
    '3_notes.up.sql': 'CREATE TABLE notes (id INTEGER);\n',
    '3_notes.down.sql': 'DROP TABLE notes;\n',
  });
  const { browser, stop } = await launch(t, p);
  let passed = false;
  try {
    await seeText(browser, '3 pending');
    await applyAll(browser);
    await seeText(browser, '3 applied');

    await click(browser, '⋯', '.project');
    await click(browser, 'Squash migrations…');
    await fill(browser, 'Squash up to', '2');
    await click(browser, 'Preview');
    await seeText(browser, 'Would replace 2 migration(s) (1, 2) with 2_squashed.sql');
    await seeText(browser, 'history rewritten (one transaction)');
    assert.ok(readdirSync(join(p.project, 'migrations')).includes('1_items.up.sql'), 'the preview changes nothing');
    await click(browser, 'Squash', '.dialog footer');
    await seeText(browser, 'Replaced 2 migration(s) with 2_squashed.sql.');
    await click(browser, 'Close', '.dialog footer');
    assert.deepEqual(readdirSync(join(p.project, 'migrations')).sort(), ['2_squashed.sql', '3_notes.down.sql', '3_notes.up.sql']);
    await seeText(browser, '2 applied');
    passed = true;
  } finally {
    await stop(passed);
  }
});

test('Baseline shows the file first, then writes and records it', async (t) => {
  const p = newProject('[env.legacy]\nurl = "sqlite://legacy.db"\n');
  sqlite(join(p.project, 'legacy.db'), 'CREATE TABLE customers (id INTEGER PRIMARY KEY, name TEXT NOT NULL)');
  const { browser, stop } = await launch(t, p);
  let passed = false;
  try {
    await seeText(browser, 'legacy');
    await click(browser, '⋯', '.project');
    await click(browser, 'Baseline legacy…');
    await seeText(browser, 'CREATE TABLE customers');
    await seeText(browser, '_baseline.sql (1 objects');
    assert.deepEqual(readdirSync(join(p.project, 'migrations')), [], 'the preview writes nothing');
    await click(browser, 'Write and record');
    await seeText(browser, 'and recorded it as applied on legacy.');
    await click(browser, 'Close', '.dialog footer');
    await seeText(browser, '1 applied');
    assert.equal(readdirSync(join(p.project, 'migrations')).filter((n) => n.endsWith('_baseline.sql')).length, 1);
    passed = true;
  } finally {
    await stop(passed);
  }
});
