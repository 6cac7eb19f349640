// A migration merged in late (older than one applied): the Check screen offers Rebase, shows the
// rename first, and renumbers the file after the newest; Refresh runs Check again where it is shown.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { applyAll, click, launch, newProject, seeText } from './harness.mjs';

test('Check renumbers an out-of-order migration with Rebase', async (t) => {
  const p = newProject('[env.dev]\nurl = "sqlite://dev.db"\n', {
    '1_items.up.sql': 'CREATE TABLE items (id INTEGER);\n',
    '1_items.down.sql': 'DROP TABLE items;\n',
    '3_tags.up.sql': 'CREATE TABLE tags (id INTEGER);\n',
    '3_tags.down.sql': 'DROP TABLE tags;\n',
  });
  const { browser, stop } = await launch(t, p);
  let passed = false;
  try {
    await seeText(browser, '2 pending');
    await applyAll(browser);
    await seeText(browser, '2 applied');

    const dir = join(p.project, 'migrations');
    writeFileSync(join(dir, '2_notes.up.sql'), 'CREATE TABLE notes (id INTEGER);\n');
    writeFileSync(join(dir, '2_notes.down.sql'), 'DROP TABLE notes;\n');
    await click(browser, 'Refresh');
    await browser.keys(['4']);
    await seeText(browser, 'older than the newest applied migration');
    await click(browser, 'Rebase: renumber the pending ones…');
    await seeText(browser, 'These files get new versions after 3');
    assert.ok(existsSync(join(dir, '2_notes.up.sql')), 'the renames are shown before they are done');
    await click(browser, 'Rename these files');
    await seeText(browser, 'Renamed 1 migration(s).');
    const names = readdirSync(dir);
    assert.ok(!names.includes('2_notes.up.sql'), names.join(', '));
    assert.equal(names.filter((n) => n.endsWith('_notes.up.sql') || n.endsWith('_notes.down.sql')).length, 2, names.join(', '));
    await seeText(browser, 'No problems found.');

    // Made in a shell meanwhile: Refresh (F5) runs Check again, on the Check screen itself.
    writeFileSync(join(dir, '2_late.up.sql'), 'CREATE TABLE late (id INTEGER);\n');
    writeFileSync(join(dir, '2_late.down.sql'), 'DROP TABLE late;\n');
    await browser.keys(['F5']);
    await seeText(browser, 'older than the newest applied migration');
    passed = true;
  } finally {
    await stop(passed);
  }
});
