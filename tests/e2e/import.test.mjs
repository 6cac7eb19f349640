// A folder holding another tool's project: opening it offers the import, shows the files it would
// write first, and opens the new project with the migrations pending.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { click, fill, launch, seeText } from './harness.mjs';

test('a Flyway folder is offered for import, previewed, and opened as a project', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'godwit-e2e-'));
  const shop = join(dir, 'shop');
  mkdirSync(join(shop, 'sql'), { recursive: true });
  writeFileSync(join(shop, 'sql', 'V1__Create_person.sql'), 'CREATE TABLE person (id INTEGER);\n');
  writeFileSync(join(shop, 'sql', 'U1__Create_person.sql'), 'DROP TABLE person;\n');
  writeFileSync(join(shop, 'sql', 'V2__Add_name.sql'), 'ALTER TABLE person ADD name TEXT;\n');
  writeFileSync(join(shop, 'sql', 'R__People.sql'), 'CREATE VIEW people AS SELECT * FROM person;\n');
  mkdirSync(join(dir, 'home'));
  // Started on an empty folder: the picker shows, and the Flyway folder is typed there.
  const empty = join(dir, 'empty');
  mkdirSync(empty);
  const { browser, stop } = await launch(t, { project: empty, home: join(dir, 'home') });
  let passed = false;
  try {
    await fill(browser, 'Project folder', shop);
    await click(browser, 'Open', 'form');
    await seeText(browser, 'holds Flyway migrations');
    await click(browser, 'Import it…');
    await seeText(browser, '1_create_person.up.sql');
    await seeText(browser, 'R__People.sql');
    assert.ok(!existsSync(join(shop, 'godwit.toml')), 'the preview writes nothing');
    await click(browser, 'Import 3 file(s) and open');
    await seeText(browser, '2 pending');
    assert.ok(existsSync(join(shop, 'godwit.toml')));
    assert.deepEqual(readdirSync(join(shop, 'migrations')).sort(), ['1_create_person.down.sql', '1_create_person.up.sql', '2_add_name.sql']);
    passed = true;
  } finally {
    await stop(passed);
  }
});
