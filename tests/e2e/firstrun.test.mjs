// The first run: no project given. The window offers the demo (copied into the data folder), a
// new project in an empty folder, and About with the folders Godwit keeps a person's files in.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { click, fill, launch, seeText } from './harness.mjs';

test('first run: the demo, a new project, About', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'godwit-e2e-'));
  const home = join(dir, 'home');
  mkdirSync(home);
  const { browser, stop } = await launch(t, { project: undefined, home });
  let passed = false;
  try {
    await seeText(browser, 'Try the demo');
    await click(browser, 'Try the demo');
    await seeText(browser, 'create todos table');
    await seeText(browser, '0 applied');
    const demo = join(home, 'data', 'demo');
    assert.match(readFileSync(join(demo, 'godwit.toml'), 'utf8'), /^id = "godwit-demo-copy"$/m);

    // About, from the project menu: the version and the folders, as this run's environment set them.
    await click(browser, '⋯', 'nav .project');
    await click(browser, 'About Godwit');
    await seeText(browser, join(home, 'data', 'backups'));
    await seeText(browser, join(home, 'config'));
    // Escape closes it, as it closes the other dialogs.
    await browser.keys(['Escape']);
    await browser.waitUntil(async () => (await browser.$$('.dialog')).length === 0, { timeout: 5000, timeoutMsg: 'About stayed open on Escape' });

    // Back to the first screen: the demo is a recent project; an empty folder becomes a new one.
    await click(browser, 'Open…', 'nav .project');
    await seeText(browser, demo);
    const fresh = join(dir, 'fresh');
    mkdirSync(fresh);
    await fill(browser, 'Project folder', fresh);
    await click(browser, 'Open', 'form');
    await seeText(browser, 'with an empty migrations/ folder');
    await click(browser, 'Create');
    await seeText(browser, 'No migrations yet');
    assert.ok(existsSync(join(fresh, 'godwit.toml')) && existsSync(join(fresh, 'migrations')));
    passed = true;
  } finally {
    await stop(passed);
  }
});
