// The twelfth new-user trial: "I undid it by hand" was taken on trust, with the first statement's
// table still there. Check compares the word with the schema first: refused, nothing marked, and
// "mark it all the same" offered; once undone for real, the same button marks it. A hand change
// the schema comparison finds is not "no problems".
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { click, launch, newProject, seeText, sqlite } from './harness.mjs';

test('a resolve the schema does not bear out is refused, then marked once it does', async (t) => {
  const p = newProject('[env.dev]\nurl = "sqlite://dev.db"\n', {
    '1_half.sql': '-- no-transaction\nCREATE TABLE a (id INTEGER);\nCREATE TABLEX b (id INTEGER);\n',
  });
  const db = join(p.project, 'dev.db');
  const { browser, stop } = await launch(t, p);
  let passed = false;
  try {
    await seeText(browser, '1 pending');
    await browser.keys(['a']);
    await click(browser, 'Apply', '.dialog footer');
    await seeText(browser, 'part way');
    await click(browser, 'Close', '.dialog');
    await browser.keys(['4']);
    await click(browser, 'I undid it by hand');
    await seeText(browser, 'Nothing was marked');
    await seeText(browser, 'I undid it by hand: mark it all the same');
    assert.deepEqual(sqlite(db, 'SELECT version, success FROM _sqlx_migrations'), [[1, 0]]);

    sqlite(db, 'DROP TABLE a');
    await click(browser, 'I undid it by hand');
    await seeText(browser, 'The schema is what the applied migrations make without it.');
    assert.deepEqual(sqlite(db, 'SELECT version FROM _sqlx_migrations'), []);

    // A hand change the comparison finds is a problem: Check no longer says there are none (trial 14).
    sqlite(db, 'CREATE TABLE by_hand (id INTEGER)');
    await seeText(browser, 'No problems found.');
    await click(browser, 'Compare the schema with what the migrations make');
    await seeText(browser, '1 object(s) changed by hand');
    const shown = await browser.execute(() => document.body.innerText);
    assert.ok(!shown.includes('No problems found.'), shown);
    passed = true;
  } finally {
    await stop(passed);
  }
});
