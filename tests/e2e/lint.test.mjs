// Lint in the app: the Apply dialog marks each finding on its line and sums them up above the
// button (on a protected environment, errors must be acknowledged first); the Check screen lists
// the pending migrations' findings; the New migration editor lints as the person types.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { fill, launch, newProject, seeText } from './harness.mjs';

test('findings in the preview, the Check screen and the editor', async (t) => {
  const p = newProject('[env.prod]\nurl = "sqlite://prod.db"\nprotected = true\n', {
    '1_accounts.sql': 'CREATE TABLE accounts (id INTEGER PRIMARY KEY, nickname TEXT);\n',
    '2_required.sql': "SELECT 1;\nALTER TABLE accounts ALTER COLUMN nickname SET NOT NULL;\n",
  });
  const { browser, stop } = await launch(t, p);
  let passed = false;
  try {
    await seeText(browser, '2 pending');
    await browser.keys(['a']);
    await seeText(browser, 'Lint: 1 error in the SQL above.');
    // Marked on its own line: the second of 2_required.sql.
    const marked = await browser.$('.marked .line.error');
    assert.equal(await marked.getText(), 'ALTER TABLE accounts ALTER COLUMN nickname SET NOT NULL;');
    await seeText(browser, '[sqlite-unsupported-alter]');

    const apply = await browser.$('.dialog footer button.primary');
    await fill(browser, 'Confirm environment name', 'prod');
    assert.equal(await apply.isEnabled(), false, 'a protected environment waits for the errors to be acknowledged');
    await (await browser.$('[aria-label="Run despite lint errors"]')).click();
    assert.equal(await apply.isEnabled(), true);
    await browser.keys(['Escape']);

    await browser.keys(['4']);
    await seeText(browser, 'Lint: migrations not applied here');
    await seeText(browser, 'sqlite-unsupported-alter');

    await browser.keys(['5']);
    const editor = await browser.$('[aria-label="up-sql"]');
    await editor.click();
    await editor.addValue('ALTER TABLE accounts DROP COLUMN nickname;');
    await seeText(browser, 'ban-drop-column');
    // The advice is its own sentence, not run into the message (Svelte drops a block's leading space).
    const item = await browser.execute(() => [...document.querySelectorAll('li')].map((l) => l.textContent).find((t) => t.includes('ban-drop-column')));
    assert.doesNotMatch(item, /\SInstead:/, item);
    // On the editor's line too, as CodeMirror diagnostics.
    await browser.waitUntil(async () => (await browser.$$('.cm-lintRange-warning')).length > 0, { timeout: 10000 });
    passed = true;
  } finally {
    await stop(passed);
  }
});
