// A folder holding another tool's project: opening it offers the import, shows the files it would
// write first, and opens the new project with the migrations pending.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { homedir, tmpdir } from 'node:os';
import { join } from 'node:path';
import { click, fill, launch, seeText } from './harness.mjs';

/** Starts the app on an empty folder (the picker shows), types `folder` there, opens it and waits
 * for the import it offers; `body` then drives the window. */
async function offered(t, dir, folder, tool, body) {
  mkdirSync(join(dir, 'home'));
  const empty = join(dir, 'empty');
  mkdirSync(empty);
  const { browser, stop } = await launch(t, { project: empty, home: join(dir, 'home') });
  let passed = false;
  try {
    await fill(browser, 'Project folder', folder);
    await click(browser, 'Open', 'form');
    await seeText(browser, `holds ${tool} migrations`);
    await click(browser, 'Import it…');
    await body(browser);
    passed = true;
  } finally {
    await stop(passed);
  }
}

test('a Flyway folder is offered for import, previewed, and opened as a project', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'godwit-e2e-'));
  const shop = join(dir, 'shop');
  mkdirSync(join(shop, 'sql'), { recursive: true });
  writeFileSync(join(shop, 'sql', 'V1__Create_person.sql'), 'CREATE TABLE person (id INTEGER);\n');
  writeFileSync(join(shop, 'sql', 'U1__Create_person.sql'), 'DROP TABLE person;\n');
  writeFileSync(join(shop, 'sql', 'V2__Add_name.sql'), 'ALTER TABLE person ADD name TEXT;\n');
  writeFileSync(join(shop, 'sql', 'R__People.sql'), 'CREATE VIEW people AS SELECT * FROM person;\n');
  await offered(t, dir, shop, 'Flyway', async (browser) => {
    await seeText(browser, '1_create_person.up.sql');
    await seeText(browser, 'R__People.sql');
    assert.ok(!existsSync(join(shop, 'godwit.toml')), 'the preview writes nothing');
    await click(browser, 'Import 3 file(s) and open');
    await seeText(browser, '2 pending');
    assert.ok(existsSync(join(shop, 'godwit.toml')));
    assert.deepEqual(readdirSync(join(shop, 'migrations')).sort(), ['1_create_person.down.sql', '1_create_person.up.sql', '2_add_name.sql']);
  });
});

test("an Alembic project's code runs only after the person has seen it and said yes", async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'godwit-e2e-'));
  const todo = join(dir, 'todo');
  cpSync(join(import.meta.dirname, '../data/import/alembic'), todo, { recursive: true });
  // env.py leaves a mark when it runs; the project's own virtualenv is Alembic's.
  const marker = join(dir, 'env-py-ran');
  const envPy = join(todo, 'migrations', 'env.py');
  writeFileSync(envPy, `open(${JSON.stringify(marker)}, 'w').write('ran')\n` + readFileSync(envPy, 'utf8'));
  mkdirSync(join(todo, '.venv', 'bin'), { recursive: true });
  const python = join(todo, '.venv', 'bin', 'python');
  writeFileSync(python, `#!/bin/sh\nexec ${join(homedir(), '.cache/godwit/tools/alembic/bin/python')} "$@"\n`);
  chmodSync(python, 0o755);
  await offered(t, dir, todo, 'Alembic', async (browser) => {
    await seeText(browser, 'Run it and show the files');
    await seeText(browser, python);
    // Another Python chosen: the consent names it, and it is the one that runs.
    const chosen = join(homedir(), '.cache/godwit/tools/alembic/bin/python');
    await fill(browser, 'Python', chosen);
    await seeText(browser, `Interpreter: ${chosen}`);
    assert.ok(!existsSync(marker), 'env.py ran before anyone agreed');
    await click(browser, 'Run it and show the files');
    await seeText(browser, '20240201145745_create_todos_table.up.sql');
    assert.ok(existsSync(marker));
    assert.ok(!existsSync(join(todo, 'godwit.toml')), 'the preview writes nothing');
  });
});
