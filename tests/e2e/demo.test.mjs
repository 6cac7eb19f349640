// Scenario 1: open the demo project, see `dev` (SQLite) with the todos migration pending, apply
// it, see it applied and a row in History; the database holds the table.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { hostname, userInfo } from 'node:os';
import { demoProject, launch, seeText, sqlite } from './harness.mjs';

test('apply the demo migration', async (t) => {
  const p = demoProject();
  const { browser, stop } = await launch(t, p);
  let passed = false;
  try {
    await seeText(browser, 'create todos table');
    await seeText(browser, '0 applied');
    await browser.keys(['r']);
    await seeText(browser, 'Nothing is applied: there is nothing to roll back.');
    assert.equal(await browser.execute(() => document.querySelector('.badge.pending')?.textContent), 'pending');

    await browser.keys(['a']);
    await seeText(browser, 'exactly this SQL');
    await seeText(browser, 'CREATE TABLE todos');
    await (await browser.$('.dialog button.primary')).click();
    await seeText(browser, 'Done.');
    // A finished dialog does not run again (its plan is stale).
    await browser.keys(['Control', 'Enter']);
    await browser.keys(['Control']);
    await (await browser.$('button=Close')).click();
    await seeText(browser, '1 applied');
    assert.equal(await browser.execute(() => document.querySelector('.badge.applied')?.textContent), 'applied');
    // Who applied it: this machine's user@host, from the event log.
    const by = await browser.execute(() => document.querySelector('.row .c-by')?.textContent);
    assert.equal(by, `${userInfo().username}@${hostname()}`);

    await browser.keys(['2']);
    await seeText(browser, '1 event(s)');
    const row = await browser.execute(() => [...document.querySelectorAll('tbody tr td')].map((c) => c.textContent?.trim()));
    assert.ok(row.includes('apply') && row.includes('ok'), row.join(' | '));

    const db = join(p.project, 'godwit-demo.db');
    assert.deepEqual(sqlite(db, "SELECT name FROM sqlite_master WHERE name = 'todos'"), [['todos']]);
    assert.deepEqual(sqlite(db, 'SELECT version, success FROM _sqlx_migrations'), [[20240201145745, 1]]);
    passed = true;
  } finally {
    await stop(passed);
  }
});
