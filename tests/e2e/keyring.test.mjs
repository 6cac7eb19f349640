// Scenario 2: add a PostgreSQL environment through the form with a password, test the connection,
// restart the app and connect again without retyping it. The server asks for the password (a
// scram cluster of the test's own), so connecting proves the keyring kept it; no file holds it.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { click, fill, filesHolding, launch, newProject, scramCluster, seeText, windowText } from './harness.mjs';

test('a password typed once is kept in the keyring across restarts', async (t) => {
  const password = `E2e-${Date.now()}-pw`;
  const cluster = await scramCluster(password);
  t.after(() => cluster.stop());
  const p = newProject('', { '1_people.up.sql': 'CREATE TABLE people (id int);\n', '1_people.down.sql': 'DROP TABLE people;\n' });

  let { browser, stop } = await launch(t, p);
  let passed = false;
  try {
    await seeText(browser, 'No environment yet');
    await click(browser, 'Add environment');
    await fill(browser, 'Environment name', 'staging');
    await fill(browser, 'Database URL', cluster.url);
    await fill(browser, 'Password', password);
    await click(browser, 'Save', 'form');
    await seeText(browser, 'Saved.');
    // The field is emptied once the keyring has the password.
    assert.equal(await (await browser.$('[aria-label="Password"]')).getValue(), '');
    await click(browser, 'Test connection');
    await seeText(browser, 'Connected: postgres ');
    await seeText(browser, 'no history table yet');
    await click(browser, 'Close', 'form');
    await seeText(browser, '1 pending');

    // A URL pasted with its password: the password is taken out of it, into the keyring.
    await click(browser, 'Add environment');
    await fill(browser, 'Environment name', 'pasted');
    await fill(browser, 'Database URL', cluster.url.replace('postgres@', `postgres:${password}@`));
    await click(browser, 'Save', 'form');
    await seeText(browser, 'The password in the URL went to the keyring');
    assert.equal(await (await browser.$('[aria-label="Database URL"]')).getValue(), cluster.url);
    await click(browser, 'Test connection');
    await seeText(browser, 'Connected: postgres ');
    // A failed save does not leave the earlier "Saved." beside its error.
    await fill(browser, 'Database URL', 'nonsense://nowhere');
    await click(browser, 'Save', 'form');
    await browser.waitUntil(async () => (await browser.$$('form [role="alert"]')).length > 0, { timeout: 10000, timeoutMsg: 'no error shown' });
    assert.doesNotMatch(await windowText(browser), /Saved\./);
    await click(browser, 'Close', 'form');
    passed = true;
  } finally {
    await stop(passed);
  }

  ({ browser, stop } = await launch(t, p));
  passed = false;
  try {
    // Status reads the database: the password came from the keyring.
    await seeText(browser, 'staging');
    await seeText(browser, '1 pending');
    await (await browser.$('button.edit[title="Edit staging"]')).click();
    await seeText(browser, 'Edit staging');
    assert.equal(await (await browser.$('[aria-label="Password"]')).getValue(), '', 'the password is never shown again');
    await click(browser, 'Test connection');
    await seeText(browser, 'Connected: postgres ');
    assert.deepEqual(filesHolding(p.dir, password), [], 'no file in the project or HOME holds the password');
    passed = true;
  } finally {
    await stop(passed);
  }

  // godwit.toml now points both environments at another database (a teammate's edit, or a fork's): the
  // stored password is not sent until the person confirms the new server with the button.
  const toml = join(p.project, 'godwit.toml');
  writeFileSync(toml, readFileSync(toml, 'utf8').replaceAll(cluster.url, cluster.url.replace(/\/postgres$/, '/template1')));
  ({ browser, stop } = await launch(t, p));
  passed = false;
  try {
    await seeText(browser, 'was stored for another server, and was not sent');
    await click(browser, 'Send the password to the new server');
    await seeText(browser, '1 pending');
    passed = true;
  } finally {
    await stop(passed);
  }
});
