// Starts the real app under tauri-driver (WebKitWebDriver) with its own HOME and project, and
// drives it with WebdriverIO. On failure, a screenshot and the driver's log go to E2E_ARTIFACTS.
import { spawn, execFileSync } from 'node:child_process';
import { cpSync, mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import net from 'node:net';
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

/** Opens the app on `project`; returns the WebdriverIO browser and a stop function. */
export async function launch(t, { project, home }) {
  const port = await freePort();
  const nativePort = await freePort();
  const log = [];
  const driver = spawn(DRIVER, ['--port', String(port), '--native-port', String(nativePort)], {
    env: { ...process.env, HOME: home, GODWIT_PROJECT: project, GODWIT_CONFIG_DIR: join(home, 'config'), GODWIT_DATA_DIR: join(home, 'data') },
  });
  driver.stdout.on('data', (d) => log.push(String(d)));
  driver.stderr.on('data', (d) => log.push(String(d)));
  await waitPort(port, 15000);
  const browser = await remote({
    hostname: '127.0.0.1',
    port,
    logLevel: 'warn',
    capabilities: {
      browserName: 'wry',
      'wdio:enforceWebDriverClassic': true,
      // The project to open is the app's first argument, as `make run` gives it.
      'tauri:options': { application: APP, args: [project] },
    },
  });
  // stop(true) after the assertions passed; anything else keeps a screenshot and the log.
  const stop = async (passed = false) => {
    if (!passed) {
      mkdirSync(ARTIFACTS, { recursive: true });
      const name = t.name.replace(/\W+/g, '_');
      try {
        await browser.saveScreenshot(join(ARTIFACTS, `${name}.png`));
      } catch {}
      writeFileSync(join(ARTIFACTS, `${name}.log`), log.join(''));
    }
    try {
      await browser.deleteSession();
    } catch {}
    driver.kill();
  };
  return { browser, stop };
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
