// Takes the README's screenshots (docs/screenshots) with the e2e harness: `make screenshots`.
// A project with a SQLite `dev`, a PostgreSQL `staging` of 301 migrations (the last one fails)
// and a protected MariaDB `prod` with a backup.
import { test } from 'node:test';
import { execFileSync } from 'node:child_process';
import { cpSync, mkdirSync, mkdtempSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { click, fill, launch, mysqlDatabase, newProject, pgDatabase, screenshot, seeText } from './harness.mjs';

const OUT = resolve(import.meta.dirname, '../../docs/screenshots');
const GODWIT = resolve(process.env.GODWIT_APP, '../godwit');
const pause = (ms) => new Promise((r) => setTimeout(r, ms));

const names = ['create users', 'add email to users', 'create orders', 'add index orders user', 'create products', 'add price', 'create invoices', 'add status', 'create audit log', 'rename total'];
function migrations() {
  const m = {};
  for (let i = 1; i <= 300; i++) {
    const v = 20250101000000 + i * 100;
    const slug = `${names[(i - 1) % 10].replaceAll(' ', '_')}_${i}`;
    m[`${v}_${slug}.up.sql`] = `-- ${names[(i - 1) % 10]} ${i}\nCREATE TABLE t_${i} (id BIGINT PRIMARY KEY, label VARCHAR(80) NOT NULL DEFAULT '');\n`;
    m[`${v}_${slug}.down.sql`] = `DROP TABLE t_${i};\n`;
  }
  m['20250101030100_backfill_totals.up.sql'] = '-- Fills the new total column from the order lines.\nUPDATE t_3 SET label = \'x\';\nUPDATE t_3 SET total = 0 WHERE total IS NULL;\n';
  m['20250101030100_backfill_totals.down.sql'] = '-- nothing to undo\n';
  return m;
}

test('screenshots', async (t) => {
  const pg = pgDatabase();
  const my = mysqlDatabase();
  t.after(() => (pg.drop(), my.drop()));
  my.query("CREATE TABLE customers (id int PRIMARY KEY, name varchar(40)); INSERT INTO customers VALUES (1, 'Ada'), (2, 'Grace');");
  const p = newProject(
    `default_env = "staging"\n\n[env.dev]\nurl = "sqlite://dev.db"\ncolor = "green"\n\n[env.staging]\nurl = "${pg.url}"\ncolor = "amber"\n\n[env.prod]\nurl = "${my.url}"\ncolor = "red"\nprotected = true\n`,
    migrations(),
  );
  // Two repeatable files (views kept as one file each): Status lists them below the migrations.
  mkdirSync(join(p.project, 'repeatable'));
  writeFileSync(join(p.project, 'repeatable', 'active_users.sql'), 'CREATE OR REPLACE VIEW active_users AS SELECT id, label FROM t_1;\n');
  writeFileSync(join(p.project, 'repeatable', 'order_totals.sql'), 'CREATE OR REPLACE VIEW order_totals AS SELECT id FROM t_3;\n');
  const env = { HOME: p.home, GODWIT_CONFIG_DIR: join(p.home, 'config'), GODWIT_DATA_DIR: join(p.home, 'data') };
  const godwit = (...args) => execFileSync(GODWIT, ['--project', p.project, ...args], { env: { ...process.env, ...env }, stdio: 'pipe' });
  godwit('--env', 'staging', 'up', '--to', '20250101029800');
  godwit('--env', 'prod', 'up', '--to', '20250101000500', '--confirm', 'prod');
  godwit('--env', 'prod', 'backup', '--confirm', 'prod');

  const shot = async (browser, name) => {
    await pause(300);
    await screenshot(browser, join(OUT, `${name}.png`));
  };
  let { browser, stop } = await launch(t, p);
  try {
    await seeText(browser, '298 applied');
    await shot(browser, 'status');

    await browser.keys(['a']);
    await seeText(browser, 'exactly this SQL');
    await shot(browser, 'apply-preview');
    await click(browser, 'Apply', '.dialog footer');
    await seeText(browser, 'column "total" does not exist');
    await shot(browser, 'apply-failed');
    await click(browser, 'Close', '.dialog');

    await browser.keys(['2']);
    await seeText(browser, 'event(s)');
    await fill(browser, 'Outcome', '');
    await shot(browser, 'history');

    await browser.keys(['5']);
    await fill(browser, 'Template', 'add_column');
    await fill(browser, 'table', 'orders');
    await fill(browser, 'column', 'shipped_at');
    await fill(browser, 'type', 'timestamp');
    await click(browser, 'Fill from template');
    await seeText(browser, 'DROP COLUMN shipped_at');
    await browser.waitUntil(async () => (await (await browser.$('[aria-label="Migration name"]')).getValue()) === 'add_shipped_at_to_orders');
    await shot(browser, 'new');

    await (await browser.$('button[data-env="prod"]')).click();
    await browser.keys(['3']);
    await seeText(browser, 'mariadb-dump');
    await shot(browser, 'backups');
    await browser.keys(['1']);
    await seeText(browser, '5 applied');
    await browser.keys(['b']);
    await seeText(browser, 'Type prod to confirm');
    await fill(browser, 'Confirm environment name', 'production');
    await shot(browser, 'protected-confirm');
    await click(browser, 'Close', '.dialog');

    await (await browser.$('button.edit[title="Edit staging"]')).click();
    await seeText(browser, 'Edit staging');
    await click(browser, 'Test connection');
    await seeText(browser, 'Connected:');
    await shot(browser, 'environment');
    await click(browser, 'Close', 'form');

    // An applied file edited afterwards: the run is refused, and Check says how to repair.
    await (await browser.$('button[data-env="staging"]')).click();
    writeFileSync(join(p.project, 'migrations/20250101000200_add_email_to_users_2.up.sql'), '-- add email to users 2\nCREATE TABLE t_2 (id BIGINT PRIMARY KEY);\n');
    await browser.keys(['F5']);
    await seeText(browser, '1 edited');
    await browser.keys(['4']);
    await seeText(browser, 'repair');
    await shot(browser, 'check');
    await browser.keys(['1']);
    await browser.keys(['a']);
    await seeText(browser, 'edited after');
    await shot(browser, 'apply-refused-drift');
    await click(browser, 'Close', '.dialog');

    // That migration's own page: its SQL, the checksum against what was applied, its events.
    await click(browser, '20250101000200', '.status');
    await seeText(browser, 'the file was edited after it was applied');
    await shot(browser, 'migration-page');
    await click(browser, 'Close', '.dialog');

    // Every down proven on a scratch copy beside dev: the backfill fails, and is shown first.
    await (await browser.$('button[data-env="dev"]')).click();
    await browser.keys(['6']);
    await click(browser, 'Verify');
    await seeText(browser, 'restore the schema with their down', 120000);
    await shot(browser, 'schema-verify');

    // Compare: dev (SQLite, three migrations in) against prod (MariaDB, five).
    godwit('--env', 'dev', 'up', '--to', '20250101000300');
    await fill(browser, 'Compare with', 'prod');
    await click(browser, 'Compare', '.schema');
    await seeText(browser, 'object(s) differ');
    await browser.execute(() => [...document.querySelectorAll('h3')].find((h) => h.textContent.startsWith('Compare'))?.scrollIntoView());
    await shot(browser, 'schema-compare');

    // Lint: a risky migration's findings on their lines in the preview, and in the editor (the
    // edited file put back first, so the run is not refused).
    await (await browser.$('button[data-env="staging"]')).click();
    const edited = '20250101000200_add_email_to_users_2.up.sql';
    writeFileSync(join(p.project, 'migrations', edited), migrations()[edited]);
    writeFileSync(
      join(p.project, 'migrations/20250101030150_ship_orders.up.sql'),
      '-- Orders get a shipping date and an index to find them by label.\nALTER TABLE t_3 ADD COLUMN shipped_at TIMESTAMPTZ NOT NULL;\nCREATE INDEX t_3_label ON t_3 (label);\n',
    );
    writeFileSync(join(p.project, 'migrations/20250101030150_ship_orders.down.sql'), 'DROP INDEX t_3_label;\nALTER TABLE t_3 DROP COLUMN shipped_at;\n');
    await browser.keys(['1']);
    await browser.keys(['F5']);
    await seeText(browser, '2 pending');
    await browser.keys(['a']);
    await seeText(browser, 'Lint: 1 error, 2 warnings');
    await shot(browser, 'apply-lint');
    await click(browser, 'Close', '.dialog');
    await browser.keys(['5']);
    const editor = await browser.$('[aria-label="up-sql"]');
    await editor.click();
    await editor.addValue('ALTER TABLE t_5 DROP COLUMN label;');
    await seeText(browser, 'ban-drop-column');
    await fill(browser, 'Migration name', 'drop_label_from_products');
    await shot(browser, 'new-lint');
  } finally {
    await stop(true);
  }

  // The dark theme follows the system's (GTK's) preference.
  ({ browser, stop } = await launch(t, p, { GTK_THEME: 'Adwaita:dark' }));
  try {
    await seeText(browser, 'applied');
    await shot(browser, 'status-dark');
  } finally {
    await stop(true);
  }

  // A stored password, then godwit.toml pointing staging at another host: nothing is sent until
  // the person confirms the new server.
  execFileSync(GODWIT, ['--project', p.project, 'secret', 'set', 'staging', '--stdin'], { env: { ...process.env, ...env }, input: 'staging-pw\n' });
  const toml = join(p.project, 'godwit.toml');
  writeFileSync(toml, readFileSync(toml, 'utf8').replace(pg.url, pg.url.replace('127.0.0.1', 'localhost')));
  ({ browser, stop } = await launch(t, p));
  try {
    await seeText(browser, 'was not sent');
    await shot(browser, 'trust-server');
  } finally {
    await stop(true);
  }
});

test('import screenshot', async (t) => {
  // The guide's own situation: an Alembic project, opened in Godwit for the first time.
  const dir = mkdtempSync(join(tmpdir(), 'godwit-shot-'));
  const todos = join(dir, 'todos');
  cpSync(resolve(import.meta.dirname, '../data/import/alembic'), todos, { recursive: true });
  mkdirSync(join(dir, 'home'));
  // The project's own virtualenv, where Godwit looks for it: beside the project.
  symlinkSync(join(process.env.HOME, '.cache/godwit/tools/alembic'), join(todos, '.venv'));
  const { browser, stop } = await launch(t, { project: join(dir, 'home'), home: join(dir, 'home') });
  try {
    await fill(browser, 'Project folder', todos);
    await click(browser, 'Open', 'form');
    await click(browser, 'Import it…');
    // Alembic's env.py is the project's code: what would run is shown, and runs once agreed to.
    await seeText(browser, 'Run it and show the files');
    await pause(300);
    await screenshot(browser, join(OUT, 'import-consent.png'));
    await click(browser, 'Run it and show the files');
    await seeText(browser, '20240201145745_create_todos_table.up.sql');
    await pause(300);
    await screenshot(browser, join(OUT, 'import.png'));
  } finally {
    await stop(true);
  }
});

test('first-run screenshots', async (t) => {
  // A first run with a project opened before: the welcome screen with it among the recent ones.
  const dir = mkdtempSync(join(tmpdir(), 'godwit-shot-'));
  const home = join(dir, 'home');
  mkdirSync(join(home, 'config'), { recursive: true });
  writeFileSync(join(home, 'config', 'recent.json'), JSON.stringify(['/home/ada/work/shop-api', '/home/ada/work/billing']));
  const { browser, stop } = await launch(t, { project: undefined, home });
  try {
    await seeText(browser, 'Try the demo');
    await pause(300);
    await screenshot(browser, join(OUT, 'first-run.png'));
    await click(browser, 'About Godwit');
    await seeText(browser, 'Backups');
    await pause(300);
    await screenshot(browser, join(OUT, 'about.png'));
  } finally {
    await stop(true);
  }
});

test('fleet screenshots', async (t) => {
  // Sixty tenant databases on the local PostgreSQL and one region whose server is down: one tenant
  // already has the table the first migration makes.
  const tenants = ['acme', 'globex', 'initech', 'umbrella', 'hooli', 'stark', 'wayne', 'wonka', 'tyrell', 'cyberdyne', 'soylent', 'aperture'];
  const names = Array.from({ length: 60 }, (_, i) => `gwshot_${tenants[i % 12]}_${String(Math.floor(i / 12) + 1).padStart(2, '0')}`);
  const base = new URL(process.env.GODWIT_TEST_PG_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres');
  const url = (db) => Object.assign(new URL(base), { pathname: `/${db}` }).toString();
  const psql = (sql, db = 'postgres') => execFileSync('psql', ['-X', '-q', '-v', 'ON_ERROR_STOP=1', url(db), '-c', sql], { stdio: 'pipe' });
  const dropAll = () => names.forEach((n) => psql(`DROP DATABASE IF EXISTS ${n} WITH (FORCE)`));
  dropAll();
  t.after(dropAll);
  names.forEach((n) => psql(`CREATE DATABASE ${n}`));
  psql('CREATE TABLE accounts (id int)', 'gwshot_hooli_01');
  const p = newProject('[env.dev]\nurl = "sqlite://dev.db"\n\n[fleet.tenants]\nfile = "tenants.txt"\n', {
    '20250301090000_create_accounts.up.sql': 'CREATE TABLE accounts (id BIGINT PRIMARY KEY, name TEXT NOT NULL);\n',
    '20250301090000_create_accounts.down.sql': 'DROP TABLE accounts;\n',
    '20250302090000_add_plan.up.sql': "ALTER TABLE accounts ADD COLUMN plan TEXT NOT NULL DEFAULT 'free';\n",
    '20250302090000_add_plan.down.sql': 'ALTER TABLE accounts DROP COLUMN plan;\n',
    '20250303090000_create_invoices.up.sql': 'CREATE TABLE invoices (id BIGINT PRIMARY KEY, account_id BIGINT REFERENCES accounts);\nSELECT pg_sleep(0.1);\n',
    '20250303090000_create_invoices.down.sql': 'DROP TABLE invoices;\n',
  });
  writeFileSync(join(p.project, 'tenants.txt'), names.map((n) => `${url(n)}\n`).join('') + 'postgres://app@127.0.0.1:1/gwshot_region_ap\n');
  const { browser, stop } = await launch(t, p);
  try {
    await (await browser.$('button[data-fleet="tenants"]')).click();
    await seeText(browser, 'behind 3');
    await click(browser, 'Run…');
    await fill(browser, 'Databases at once', '4');
    await fill(browser, 'On failure', 'count');
    await fill(browser, 'Failures allowed', '5');
    await pause(300);
    await screenshot(browser, join(OUT, 'fleet-run.png'));
    await click(browser, 'Run', '.dialog footer');
    await seeText(browser, 'at head 59', 120000);
    await (await browser.$('button[data-member="gwshot_hooli_01"]')).click();
    await seeText(browser, 'already exists');
    await pause(300);
    await screenshot(browser, join(OUT, 'fleet.png'));
  } finally {
    await stop(true);
  }
});
