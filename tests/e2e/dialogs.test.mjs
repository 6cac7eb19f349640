// What the seventh new-user trial met in the app: a preview with two findings of one rule on one
// line, a refused run's "Preview it again", and a screen's message following to another environment.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { appendFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { applyAll, click, fill, launch, newProject, seeText } from './harness.mjs';

test('the Apply dialog previews again after a refusal, and a message stays with its environment', async (t) => {
  const p = newProject('[env.dev]\nurl = "sqlite://dev.db"\n[env.other]\nurl = "sqlite://other.db"\n', {
    '1_items.sql': 'CREATE TABLE items (id INTEGER, a TEXT, b TEXT);\n',
  });
  const { browser, stop } = await launch(t, p);
  let passed = false;
  try {
    await seeText(browser, '1 pending');
    await applyAll(browser);
    // One line, two findings of the same rule.
    writeFileSync(join(p.project, 'migrations', '2_trim.sql'), 'ALTER TABLE items DROP COLUMN a; ALTER TABLE items DROP COLUMN b;\n');
    await click(browser, 'Refresh');
    await seeText(browser, '1 pending');
    await browser.keys(['a']);
    await seeText(browser, '1 migration(s) will run');
    const marks = await browser.$$('.marked .finding');
    assert.equal(marks.length, 2, 'both findings under their line');
    const apply = await browser.$('.dialog footer button.primary');
    assert.equal(await apply.isEnabled(), true);

    // A file added after the preview: the run is refused, and "Preview it again" shows the plan
    // as it is now, ready to run.
    writeFileSync(join(p.project, 'migrations', '3_more.sql'), 'CREATE TABLE more (id INTEGER);\n');
    await apply.click();
    await seeText(browser, 'the plan changed since it was previewed');
    await click(browser, 'Preview it again', '.dialog');
    await seeText(browser, '2 migration(s) will run');
    await click(browser, 'Apply', '.dialog footer');
    await seeText(browser, 'Done. 2 of 2 ran.');
    await click(browser, 'Close', '.dialog');

    // A repair said on dev's Check screen is not said on other's.
    writeFileSync(join(p.project, 'migrations', '1_items.sql'), 'CREATE TABLE items (id INTEGER, a TEXT, b TEXT); -- reviewed\n');
    await click(browser, 'Refresh');
    await browser.keys(['4']);
    const reason = await browser.$('[aria-label="Repair reason"]');
    await reason.waitForDisplayed({ timeout: 15000 });
    await reason.setValue('a comment only');
    await click(browser, 'Repair (accept the edit)');
    await seeText(browser, 'Accepted the edited 1_items.sql');
    await (await browser.$('[data-env="other"]')).click();
    await seeText(browser, 'No problems found.');
    const shown = await browser.execute(() => document.body.innerText);
    assert.ok(!shown.includes('Accepted the edited'), shown);

    // An environment added in a shell shows up on Refresh.
    appendFileSync(join(p.project, 'godwit.toml'), '[env.third]\nurl = "sqlite://third.db"\n');
    await click(browser, 'Refresh');
    await (await browser.$('[data-env="third"]')).waitForExist({ timeout: 15000 });
    passed = true;
  } finally {
    await stop(passed);
  }
});

test('on a protected environment, a plan read again asks again for its name and its lint errors', async (t) => {
  const p = newProject('[env.prod]\nurl = "sqlite://prod.db"\nprotected = true\n[lint]\nseverity = { ban-drop-column = "error" }\n', {
    '1_items.sql': 'CREATE TABLE items (id INTEGER, a TEXT, b TEXT);\n',
  });
  const { browser, stop } = await launch(t, p);
  let passed = false;
  try {
    await seeText(browser, '1 pending');
    await browser.keys(['a']);
    await fill(browser, 'Confirm environment name', 'prod');
    await click(browser, 'Apply', '.dialog footer');
    await seeText(browser, 'Done. 1 of 1 ran.');
    await click(browser, 'Close', '.dialog');
    writeFileSync(join(p.project, 'migrations', '2_trim.sql'), 'ALTER TABLE items DROP COLUMN a;\n');
    await click(browser, 'Refresh');
    await seeText(browser, '1 pending');
    await browser.keys(['a']);
    await seeText(browser, 'Lint: 1 error');
    await fill(browser, 'Confirm environment name', 'prod');
    await (await browser.$('[aria-label="Run despite lint errors"]')).click();
    // Another error added before Apply: refused, and read again it is not acknowledged.
    writeFileSync(join(p.project, 'migrations', '3_more.sql'), 'ALTER TABLE items DROP COLUMN b;\n');
    await click(browser, 'Apply', '.dialog footer');
    await seeText(browser, 'the plan changed since it was previewed');
    await click(browser, 'Preview it again', '.dialog');
    await seeText(browser, 'Lint: 2 errors');
    const apply = await browser.$('.dialog footer button.primary');
    assert.equal(await apply.isEnabled(), false, 'neither the name nor the errors carried over');
    assert.equal(await (await browser.$('[aria-label="Run despite lint errors"]')).isSelected(), false);
    assert.equal(await (await browser.$('[aria-label="Confirm environment name"]')).getValue(), '');
    passed = true;
  } finally {
    await stop(passed);
  }
});
