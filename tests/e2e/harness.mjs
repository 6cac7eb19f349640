// Starts the real app under tauri-driver (WebKitWebDriver) with its own HOME and project, and
// drives it with WebdriverIO. On failure, a screenshot and the driver's log go to E2E_ARTIFACTS.
import { spawn, execFileSync } from 'node:child_process';
import { chmodSync, cpSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import net from 'node:net';
import assert from 'node:assert/strict';
import { remote } from 'webdriverio';

const root = resolve(import.meta.dirname, '../..');
export const APP = resolve(process.env.GODWIT_APP ?? join(process.env.CARGO_TARGET_DIR ?? join(root, 'target'), 'debug/godwit-app'));
const DRIVER = process.env.TAURI_DRIVER ?? 'tauri-driver';
export const ARTIFACTS = process.env.E2E_ARTIFACTS ?? join(tmpdir(), 'godwit-e2e-artifacts');

function freePort() {
  return new Promise((ok) => {
    const s = net.createServer().listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => ok(port));
    });
  });
}

async function waitPort(port, ms) {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    const up = await new Promise((ok) => {
      const c = net.connect(port, '127.0.0.1', () => (c.end(), ok(true)));
      c.on('error', () => ok(false));
    });
    if (up) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`tauri-driver did not listen on ${port}`);
}

/** A copy of the demo project in a fresh folder, with a HOME of its own. */
export function demoProject() {
  const dir = mkdtempSync(join(tmpdir(), 'godwit-e2e-'));
  cpSync(join(root, 'migrations'), join(dir, 'project/migrations'), { recursive: true });
  cpSync(join(root, 'godwit.toml'), join(dir, 'project/godwit.toml'));
  mkdirSync(join(dir, 'home'));
  return { dir, project: join(dir, 'project'), home: join(dir, 'home') };
}

/** A project in a fresh folder: `migrations` maps file names to SQL, `toml` is godwit.toml's body. */
export function newProject(toml, migrations = {}) {
  const dir = mkdtempSync(join(tmpdir(), 'godwit-e2e-'));
  const project = join(dir, 'project');
  mkdirSync(join(project, 'migrations'), { recursive: true });
  writeFileSync(join(project, 'godwit.toml'), `id = "e2e-${process.pid}-${Date.now()}"\n${toml}`);
  for (const [name, sql] of Object.entries(migrations)) writeFileSync(join(project, 'migrations', name), sql);
  mkdirSync(join(dir, 'home'));
  return { dir, project, home: join(dir, 'home') };
}

/** Every file under `dir` whose bytes hold `needle`. */
export function filesHolding(dir, needle) {
  const hits = [];
  const walk = (d) => {
    for (const e of readdirSync(d, { withFileTypes: true })) {
      const f = join(d, e.name);
      if (e.isDirectory()) walk(f);
      else if (e.isFile() && statSync(f).size < 50e6 && readFileSync(f).includes(needle)) hits.push(f);
    }
  };
  walk(dir);
  return hits;
}

/** Opens the app on `project` (none: its first-run screen); returns the WebdriverIO browser and a stop function. */
export async function launch(t, { project, home }, env = {}) {
  const port = await freePort();
  const nativePort = await freePort();
  const log = [];
  // Its own process group: stop() takes down the driver, WebKitWebDriver and the app together.
  const driver = spawn(DRIVER, ['--port', String(port), '--native-port', String(nativePort)], {
    detached: true,
    env: { ...process.env, HOME: home, ...(project ? { GODWIT_PROJECT: project } : {}), GODWIT_CONFIG_DIR: join(home, 'config'), GODWIT_DATA_DIR: join(home, 'data'), ...env },
  });
  driver.stdout.on('data', (d) => log.push(String(d)));
  driver.stderr.on('data', (d) => log.push(String(d)));
  const killAll = () => {
    try {
      process.kill(-driver.pid, 'SIGKILL');
    } catch {}
  };
  // Whatever happens to this test process, the app does not outlive it.
  process.once('exit', killAll);
  let browser;
  try {
    await waitPort(port, 15000);
    // tauri-driver forwards to WebKitWebDriver, which it starts itself: a session asked for before
    // that one listens fails with a socket error.
    await waitPort(nativePort, 15000);
    browser = await remote({
      hostname: '127.0.0.1',
      port,
      logLevel: 'warn',
      // A stuck command fails the test in seconds, not after minutes of retries.
      connectionRetryTimeout: 30000,
      connectionRetryCount: 0,
      capabilities: {
        browserName: 'wry',
        'wdio:enforceWebDriverClassic': true,
        // The project to open is the app's first argument, as `make run` gives it.
        'tauri:options': { application: APP, args: project ? [project] : [] },
      },
    });
  } catch (e) {
    killAll();
    mkdirSync(ARTIFACTS, { recursive: true });
    writeFileSync(join(ARTIFACTS, `${t.name.replace(/\W+/g, '_')}.log`), log.join(''));
    throw e;
  }
  // stop(true) after the assertions passed; anything else keeps a screenshot and the log.
  const stop = async (passed = false) => {
    if (!passed) {
      mkdirSync(ARTIFACTS, { recursive: true });
      const name = t.name.replace(/\W+/g, '_');
      try {
        await screenshot(browser, join(ARTIFACTS, `${name}.png`));
      } catch {}
      writeFileSync(join(ARTIFACTS, `${name}.log`), log.join(''));
    }
    try {
      await browser.deleteSession();
    } catch {}
    killAll();
  };
  return { browser, stop };
}

/** Applies everything pending through the Apply dialog (the `a` key), and closes it once done. */
export async function applyAll(browser) {
  await browser.keys(['a']);
  await click(browser, 'Apply', '.dialog footer');
  await seeText(browser, 'Done.');
  await click(browser, 'Close', '.dialog');
}

/** Saves a screenshot of the window. WebKitWebDriver's snapshot waits for the next frame, which a
 * page at rest never paints: a 1-pixel animation keeps frames coming while it is taken. */
export async function screenshot(browser, file) {
  await browser.execute(() => {
    const tick = document.createElement('div');
    tick.id = 'e2e-tick';
    tick.style.cssText = 'position:fixed;left:0;top:0;width:1px;height:1px;opacity:0.01';
    tick.animate([{ transform: 'translateX(0)' }, { transform: 'translateX(1px)' }], { duration: 200, iterations: Infinity });
    document.body.append(tick);
  });
  try {
    await browser.saveScreenshot(file);
  } finally {
    await browser.execute(() => document.getElementById('e2e-tick')?.remove());
  }
}

/** Waits until the page shows `text`. */
export async function seeText(browser, text, timeout = 15000) {
  const t0 = Date.now();
  let last = '';
  try {
    await browser.waitUntil(async () => (last = await browser.execute(() => document.body.innerText)).includes(text), { timeout });
  } catch {
    throw new Error(`the window never showed “${text}”; it showed:\n${last}`);
  }
  if (process.env.E2E_VERBOSE) console.log(`saw “${text}” after ${Date.now() - t0} ms`);
}

/** Rows of a SQLite file, through Python's sqlite3 (not through Godwit). */
export function sqlite(file, sql) {
  const out = execFileSync('python3', ['-c', 'import sqlite3,sys,json; print(json.dumps(sqlite3.connect(sys.argv[1]).execute(sys.argv[2]).fetchall()))', file, sql]);
  return JSON.parse(String(out));
}

/** Clicks the button whose text contains `text` (inside `scope`, a CSS selector, when given). */
export async function click(browser, text, scope = '') {
  const b = await (scope ? browser.$(scope) : browser).$(`button*=${text}`);
  await b.waitForClickable({ timeout: 15000 });
  await b.click();
}

/** Types into the input or select labelled `label` (its aria-label). */
export async function fill(browser, label, value) {
  const el = await browser.$(`[aria-label="${label}"]`);
  await el.waitForDisplayed({ timeout: 15000 });
  if ((await el.getTagName()) === 'select') {
    // Clicking an option opens WebKitGTK's native menu, which then blocks screenshots: set it as a
    // keyboard choice would, with the events the page listens to.
    await browser.execute((e, v) => {
      e.value = v;
      e.dispatchEvent(new Event('input', { bubbles: true }));
      e.dispatchEvent(new Event('change', { bubbles: true }));
    }, el, value);
    assert.equal(await el.getValue(), value, `no option ${value} in ${label}`);
  } else await el.setValue(value);
}

/** The window's text. */
export const windowText = (browser) => browser.execute(() => document.body.innerText);

const pgBase = new URL(process.env.GODWIT_TEST_PG_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres');
const myBase = new URL(process.env.GODWIT_TEST_MYSQL_URL ?? 'mysql://root@127.0.0.1:3306/mysql');
const unique = (prefix) => `${prefix}_${process.pid}_${Date.now()}`.toLowerCase();

/** A new PostgreSQL database on the test server (`url` without a password), dropped by `drop()`. */
export function pgDatabase(base = pgBase) {
  const name = unique('godwit_e2e');
  const url = (db) => Object.assign(new URL(base), { pathname: `/${db}` }).toString();
  const query = (sql, db = name) => String(execFileSync('psql', ['-X', '-At', '-v', 'ON_ERROR_STOP=1', url(db), '-c', sql], { env: pgEnv() })).trim();
  query(`CREATE DATABASE ${name}`, pgBase.pathname.slice(1) || 'postgres');
  return {
    name,
    url: url(name),
    query,
    drop: () => query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`, pgBase.pathname.slice(1) || 'postgres'),
  };
}
const pgEnv = () => ({ ...process.env, PGCONNECT_TIMEOUT: '10' });

/** A new MariaDB/MySQL database on the test server, dropped by `drop()`. */
export function mysqlDatabase() {
  const name = unique('godwit_e2e');
  const args = ['-h', myBase.hostname, '-P', myBase.port || '3306', '-u', decodeURIComponent(myBase.username), '--batch', '--skip-column-names'];
  // The password (if any) goes through the environment, never the argument list.
  const env = { ...process.env, MYSQL_PWD: decodeURIComponent(myBase.password) };
  const query = (sql, db = name) => String(execFileSync('mariadb', [...args, ...(db ? ['-D', db] : []), '-e', sql], { env })).trim();
  query(`CREATE DATABASE ${name}`, null);
  const url = Object.assign(new URL(myBase), { password: '', pathname: `/${name}` }).toString();
  return { name, url, query, drop: () => query(`DROP DATABASE IF EXISTS ${name}`, null) };
}

/** A PostgreSQL cluster of its own that asks for a password (scram), on a free loopback port. */
export async function scramCluster(password) {
  const bin = String(execFileSync('pg_config', ['--bindir'])).trim();
  const dir = mkdtempSync(join(tmpdir(), 'godwit-e2e-pg-'));
  chmodSync(dir, 0o755);
  writeFileSync(join(dir, 'pw'), password);
  execFileSync('chown', ['-R', 'postgres:postgres', dir]);
  const port = await freePort();
  const asPostgres = (args) => execFileSync('runuser', ['-u', 'postgres', '--', ...args], { stdio: 'pipe' });
  asPostgres([join(bin, 'initdb'), '-D', join(dir, 'data'), '--auth=scram-sha-256', '--username=postgres', `--pwfile=${join(dir, 'pw')}`]);
  asPostgres([join(bin, 'pg_ctl'), '-D', join(dir, 'data'), '-l', join(dir, 'log'), '-o', `-p ${port} -k ${dir} -c listen_addresses=127.0.0.1`, '-w', 'start']);
  return {
    url: `postgres://postgres@127.0.0.1:${port}/postgres`,
    stop: () => {
      asPostgres([join(bin, 'pg_ctl'), '-D', join(dir, 'data'), '-m', 'immediate', 'stop']);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
