// A repeatable file and placeholders in the app: Status lists the repeatable file, Apply runs it
// after the migration (whose placeholder is filled), New migration writes another, and the
// environment form gives a placeholder a value without dropping what the file says beyond the form.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, readFileSync, writeFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { ARTIFACTS, applyAll, click, fill, launch, newProject, screenshot, seeText, sqlite } from './harness.mjs';

test('repeatable files and placeholders, from Status, New migration and the environment form', async (t) => {
  const p = newProject('[env.dev]\nurl = "sqlite://dev.db"\nlock_wait = "2s"\n\n[env.dev.placeholders]\ntenant = "acme"\n', {
    '1_t.sql': "-- godwit:placeholders\nCREATE TABLE t (id INTEGER, tenant TEXT);\nINSERT INTO t VALUES (1, '${tenant}');\n",
  });
  mkdirSync(join(p.project, 'repeatable'));
  writeFileSync(join(p.project, 'repeatable', 'views.sql'), 'DROP VIEW IF EXISTS tenants;\nCREATE VIEW tenants AS SELECT tenant FROM t;\n');
  const db = join(p.project, 'dev.db');
  const { browser, stop } = await launch(t, p);
  let passed = false;
  try {
    await seeText(browser, '1 pending');
    await seeText(browser, 'views.sql');
    await seeText(browser, '1 repeatable to apply');
    await browser.keys(['a']);
    await seeText(browser, '1 migration(s) and 1 repeatable file(s) will run');
    await seeText(browser, "INSERT INTO t VALUES (1, 'acme');");
    await click(browser, 'Apply', '.dialog footer');
    await seeText(browser, 'Done.');
    await click(browser, 'Close', '.dialog');
    assert.deepEqual(sqlite(db, 'SELECT tenant FROM tenants'), [['acme']]);
    await seeText(browser, '1 applied');
    mkdirSync(ARTIFACTS, { recursive: true });
    await screenshot(browser, join(ARTIFACTS, 'repeatable-status.png'));

    // The environment form: a placeholder given a value; saving keeps lock_wait and the others.
    await (await browser.$('button.edit[title="Edit dev"]')).click();
    await seeText(browser, 'Placeholders');
    await seeText(browser, '= acme');
    await fill(browser, 'Placeholder name', 'region');
    await fill(browser, 'Placeholder value', 'eu-west');
    await click(browser, 'Set', 'fieldset');
    await seeText(browser, '= eu-west');
    await fill(browser, 'Colour', 'green');
    await click(browser, 'Save', 'form');
    await seeText(browser, 'Saved.');
    const toml = readFileSync(join(p.project, 'godwit.toml'), 'utf8');
    assert.match(toml, /lock_wait = "2s"/);
    assert.match(toml, /tenant = "acme"/);
    assert.match(toml, /region = "eu-west"/);
    await click(browser, 'Close', 'form');

    // New migration: a repeatable file.
    await browser.keys(['5']);
    await fill(browser, 'Kind', 'true');
    await seeText(browser, 'A repeatable file (a view, a function, a trigger)');
    await fill(browser, 'Migration name', 'summary');
    await click(browser, 'Create repeatable file');
    await seeText(browser, 'Created ');
    assert.ok(existsSync(join(p.project, 'repeatable', 'summary.sql')));
    await browser.keys(['1']);
    await seeText(browser, 'summary.sql');
    passed = true;
  } finally {
    await stop(passed);
  }
});
