// The run dialog on a long plan: its header (progress, Close) and its footer (the error, its file
// and line, its remedies) stay in view around the list of 200 steps, when the first one fails.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { click, launch, newProject, seeText } from './harness.mjs';

test('a 200-migration run that fails at step 1 shows its error without scrolling', async (t) => {
  const files = { '1_broken.up.sql': 'CREATE TABLE a (id INTEGER);\nINSERT INTO nowhere VALUES (1);\n' };
  for (let v = 2; v <= 200; v++) files[`${v}_t${v}.up.sql`] = `CREATE TABLE t${v} (id INTEGER);\n`;
  const p = newProject('[env.dev]\nurl = "sqlite://dev.db"\n', files);

  const { browser, stop } = await launch(t, p);
  let passed = false;
  try {
    await seeText(browser, '200 pending');
    await browser.keys(['a']);
    await seeText(browser, '200 migration(s) will run');
    await click(browser, 'Apply', '.dialog footer');
    await seeText(browser, 'no such table: nowhere');

    // What a person reads is on screen, not below 199 dashes.
    const placed = (sel) =>
      browser.execute((q) => {
        const el = document.querySelector(q);
        if (!el) return 'missing';
        const r = el.getBoundingClientRect();
        return r.height > 0 && r.top >= 0 && r.bottom <= window.innerHeight ? 'in view' : `out of view (${r.top}..${r.bottom} of ${window.innerHeight})`;
      }, sel);
    const text = (sel) => browser.execute((q) => document.querySelector(q)?.textContent ?? '', sel);
    assert.equal(await placed('.dialog footer [role="alert"]'), 'in view');
    assert.equal(await placed('.dialog header'), 'in view');
    assert.equal(await placed('.dialog .progress li.failed'), 'in view');
    assert.match(await text('.dialog header [role="status"]'), /^0 of 200 ran/);
    assert.match(await text('.dialog footer [role="alert"]'), /1_broken\.up\.sql/);
    passed = true;
  } finally {
    await stop(passed);
  }
});
