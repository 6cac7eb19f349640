// The Fleet screen on a thousand SQLite tenants and one PostgreSQL server that is not there: the
// table is virtualised, a run fills it in live, one tenant fails and the others go on, the filters
// and a tenant's detail say what happened, and a rerun after the fix finishes it.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { join } from 'node:path';
import { click, fill, launch, newProject, seeText, sqlite, windowText } from './harness.mjs';

const closedPort = () =>
  new Promise((ok) => {
    const s = net.createServer().listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => ok(port));
    });
  });

test('a fleet of a thousand tenants runs from the Fleet screen', async (t) => {
  const p = newProject('[env.dev]\nurl = "sqlite://dev.db"\n\n[fleet.tenants]\nfile = "tenants.txt"\n', {
    '1_users.up.sql': 'CREATE TABLE users (id INTEGER PRIMARY KEY);\n',
    '1_users.down.sql': 'DROP TABLE users;\n',
    '2_email.up.sql': 'ALTER TABLE users ADD COLUMN email TEXT;\n',
    '2_email.down.sql': 'ALTER TABLE users DROP COLUMN email;\n',
  });
  mkdirSync(join(p.project, 'tenants'));
  const names = Array.from({ length: 1000 }, (_, i) => `t${String(i).padStart(4, '0')}`);
  const port = await closedPort();
  writeFileSync(
    join(p.project, 'tenants.txt'),
    names.map((n) => `sqlite://tenants/${n}.db\n`).join('') + `postgres://postgres@127.0.0.1:${port}/gone\n`,
  );
  // One tenant already has the table: its first migration fails.
  const bad = join(p.project, 'tenants/t0421.db');
  sqlite(bad, 'CREATE TABLE users (x int)');

  const { browser, stop } = await launch(t, p);
  let passed = false;
  try {
    await (await browser.$('button[data-fleet="tenants"]')).click();
    await seeText(browser, 'behind 1000');
    await seeText(browser, 'unreachable 1');
    // A thousand rows, a screenful drawn.
    const drawn = (await browser.$$('button.member')).length;
    assert.ok(drawn > 5 && drawn < 120, `${drawn} rows drawn`);

    await click(browser, 'Run…');
    // The SQL a run would send, read before it starts.
    await seeText(browser, '2 migration(s) pending on at least one database');
    await seeText(browser, 'ALTER TABLE users ADD COLUMN email TEXT;');
    await fill(browser, 'Databases at once', '8');
    await click(browser, 'Run', '.dialog footer');
    await seeText(browser, 'at head 999', 120000);
    await seeText(browser, 'failed 1');
    await click(browser, 'failed', '.filters');
    await (await browser.$('button[data-member="t0421.db"]')).click();
    await seeText(browser, 'already exists');
    assert.equal(sqlite(join(p.project, 'tenants/t0000.db'), 'SELECT count(*) FROM _sqlx_migrations')[0][0], 2);

    // Fixed by hand; the rerun finishes it and leaves the others as they are.
    rmSync(bad);
    await click(browser, 'All', '.filters');
    await click(browser, 'Run…');
    // Only the failed tenant lacks them now; it runs both.
    await seeText(browser, '2 migration(s) pending on at least one database');
    await fill(browser, 'What to run', 'down');
    await seeText(browser, 'Each database rolls back its newest; 1 down(s) in all');
    await seeText(browser, 'ALTER TABLE users DROP COLUMN email;');
    await fill(browser, 'What to run', 'up');
    await click(browser, 'Run', '.dialog footer');
    await seeText(browser, 'at head 1000', 120000);
    assert.match(await windowText(browser), /unreachable 1/);
    passed = true;
  } finally {
    await stop(passed);
  }
});

// A protected fleet whose run meets a migration with lint errors: each database's run refuses it,
// as one environment's would, and the run dialog then offers to acknowledge them.
test('a protected fleet runs migrations with lint errors only once they are acknowledged', async (t) => {
  const p = newProject(
    '[env.dev]\nurl = "sqlite://dev.db"\n\n[fleet.tiny]\nfile = "tiny.txt"\nprotected = true\n\n' +
      '[lint]\nseverity = { ban-drop-column = "error" }\n',
    { '1_users.sql': 'CREATE TABLE users (id INTEGER PRIMARY KEY, email TEXT);\n' },
  );
  mkdirSync(join(p.project, 'tiny'));
  writeFileSync(join(p.project, 'tiny.txt'), ['a', 'b', 'c'].map((n) => `sqlite://tiny/${n}.db\n`).join(''));
  const { browser, stop } = await launch(t, p);
  let passed = false;
  const run = async (acknowledge) => {
    await click(browser, 'Run…');
    if (acknowledge) await (await browser.$('[aria-label="Run despite lint errors"]')).click();
    await fill(browser, 'Fleet name', 'tiny');
    await click(browser, 'Run', '.dialog footer');
  };
  try {
    await (await browser.$('button[data-fleet="tiny"]')).click();
    await seeText(browser, 'behind 3');
    await run(false);
    await seeText(browser, 'at head 3', 60000);

    writeFileSync(join(p.project, 'migrations/2_drop_email.sql'), 'ALTER TABLE users DROP COLUMN email;\n');
    await run(false);
    await seeText(browser, 'failed 3', 60000);
    assert.equal(sqlite(join(p.project, 'tiny/a.db'), 'SELECT count(*) FROM _sqlx_migrations')[0][0], 1);
    await run(true);
    await seeText(browser, 'at head 3', 60000);
    assert.equal(sqlite(join(p.project, 'tiny/a.db'), 'SELECT count(*) FROM _sqlx_migrations')[0][0], 2);
    passed = true;
  } finally {
    await stop(passed);
  }
});
