// A migration's own page: its SQL, its checksum against what was applied, its events, and the
// actions that apply to it (repair an edited file; roll it back from there).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { applyAll, click, fill, launch, newProject, seeText, sqlite } from './harness.mjs';

test("a migration's page shows its SQL and events, repairs an edit and rolls it back", async (t) => {
  const p = newProject('[env.dev]\nurl = "sqlite://dev.db"\n', {
    '1_items.up.sql': 'CREATE TABLE items (id INTEGER);\n',
    '1_items.down.sql': 'DROP TABLE items;\n',
    '2_tags.up.sql': 'CREATE TABLE tags (id INTEGER);\n',
    '2_tags.down.sql': 'DROP TABLE tags;\n',
  });
  const { browser, stop } = await launch(t, p);
  let passed = false;
  try {
    await seeText(browser, '2 pending');
    await applyAll(browser);
    await seeText(browser, '2 applied');

    // Edited after it was applied: the page says so and offers the repair.
    writeFileSync(join(p.project, 'migrations', '1_items.up.sql'), 'CREATE TABLE items (id INTEGER); -- reviewed\n');
    await click(browser, 'Refresh');
    await seeText(browser, 'edited after apply');
    await click(browser, '1', '.status');
    await seeText(browser, 'the file was edited after it was applied');
    await seeText(browser, 'DROP TABLE items;');
    const events = await browser.execute(() => [...document.querySelectorAll('.dialog tbody tr')].map((r) => r.innerText));
    assert.ok(events.some((r) => r.includes('apply') && r.includes('ok')), events.join('\n'));
    await fill(browser, 'Repair reason', 'a comment only');
    await click(browser, 'Repair (accept the edit)');
    await seeText(browser, 'the file matches the checksum a repair accepted');
    await seeText(browser, 'a comment only');

    // Rolled back from its page: it and the newer one go.
    await click(browser, 'Roll back this and newer');
    await seeText(browser, '2 migration(s) will run');
    await click(browser, 'Roll back', '.dialog footer');
    await seeText(browser, 'Done.');
    assert.deepEqual(sqlite(join(p.project, 'dev.db'), "SELECT count(*) FROM sqlite_master WHERE name IN ('items', 'tags')"), [[0]]);
    passed = true;
  } finally {
    await stop(passed);
  }
});
