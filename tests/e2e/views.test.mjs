// The tenth new-user trial: a view a migration breaks was said by the CLI's status but not the
// app's. The run dialog says it as the run ends, and Status says it above the table.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { click, launch, newProject, seeText } from './harness.mjs';

test('a view a run breaks is said as the run ends and on Status after', async (t) => {
  const p = newProject('[env.dev]\nurl = "sqlite://dev.db"\n', {
    '1_items.sql': 'CREATE TABLE items (id INTEGER);\nCREATE VIEW v_items AS SELECT id FROM items;\n',
  });
  const { browser, stop } = await launch(t, p);
  let passed = false;
  try {
    await seeText(browser, '1 pending');
    writeFileSync(join(p.project, 'migrations', '2_gone.sql'), 'DROP TABLE items;\n');
    await click(browser, 'Refresh');
    await seeText(browser, '2 pending');
    await browser.keys(['a']);
    await seeText(browser, '2 migration(s) will run');
    await click(browser, 'Apply', '.dialog footer');
    await seeText(browser, 'Done. 2 of 2 ran.');
    await seeText(browser, 'this run left view v_items unreadable');
    await click(browser, 'Close', '.dialog');
    const alert = await browser.$('.status [role="alert"]');
    await alert.waitForDisplayed({ timeout: 15000 });
    assert.match(await alert.getText(), /view v_items no longer reads/);
    passed = true;
  } finally {
    await stop(passed);
  }
});
