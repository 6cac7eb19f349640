// The desktop app's launch as a person sees it: from the process starting to its Status screen
// showing every one of a project's applied migrations, and the memory of the app and its web view
// processes then. Run by bench/peers.py under Xvfb (bench/app.sh); prints one JSON line.
//   node bench/app.mjs PROJECT EXPECTED_APPLIED ROUNDS
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { launch } from '../tests/e2e/harness.mjs';

const [project, expected, rounds = '5'] = process.argv.slice(2);
const TICKS = Number(execFileSync('getconf', ['CLK_TCK']));

/** Seconds since boot, from /proc (10 ms steps). */
const uptime = () => Number(readFileSync('/proc/uptime', 'utf8').split(' ')[0]);
const stat = (pid) => {
  const s = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const f = s.slice(s.lastIndexOf(')') + 2).split(' ');
  return { ppid: Number(f[1]), start: Number(f[19]) / TICKS };
};
/** The program's file name (`comm` is cut at 15 characters). */
const name = (pid) => readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0')[0].split('/').pop();

/** The app process and every process under it (WebKit's web and network processes). */
function tree(root) {
  const kids = new Map();
  for (const d of readdirSync('/proc').filter((d) => /^\d+$/.test(d))) {
    try {
      const { ppid } = stat(d);
      kids.set(ppid, [...(kids.get(ppid) ?? []), Number(d)]);
    } catch {}
  }
  const out = [];
  const walk = (p) => (out.push(p), (kids.get(p) ?? []).forEach(walk));
  walk(root);
  return out;
}

/** Resident and proportional set sizes in MB (PSS shares the pages processes share). */
function memory(pids) {
  let rss = 0;
  let pss = 0;
  for (const p of pids) {
    try {
      const r = readFileSync(`/proc/${p}/smaps_rollup`, 'utf8');
      rss += Number(/^Rss:\s+(\d+)/m.exec(r)[1]);
      pss += Number(/^Pss:\s+(\d+)/m.exec(r)[1]);
    } catch {}
  }
  return { rss: rss / 1024, pss: pss / 1024 };
}

function appPid() {
  for (const d of readdirSync('/proc').filter((d) => /^\d+$/.test(d))) {
    try {
      if (name(d) === 'godwit-app') return Number(d);
    } catch {}
  }
  return null;
}

const results = [];
for (let i = 0; i < Number(rounds); i++) {
  const dir = mkdtempSync(join(tmpdir(), 'godwit-bench-app-'));
  mkdirSync(join(dir, 'home'));
  const t = { name: `bench-app-${i}` };
  const { browser, stop } = await launch(t, { project, home: join(dir, 'home') });
  try {
    const pid = appPid();
    // Polled every 10 ms: the first look after the session opens may already find the rows, so
    // this is an upper bound by the driver's own latency.
    await browser.waitUntil(
      async () => (await browser.execute(() => document.querySelector('.summary .ok')?.textContent ?? '')) === `${expected} applied`,
      { timeout: 60000, interval: 10 },
    );
    const seconds = uptime() - stat(pid).start;
    // When the web page began loading, after the process started: WebKit's own start-up.
    const origin = await browser.execute(() => performance.timeOrigin);
    const page = (origin - (Date.now() - seconds * 1000)) / 1000;
    const procs = tree(pid);
    results.push({ seconds, page, ...memory(procs), processes: procs.map(name) });
  } finally {
    await stop(true);
  }
}
console.log(JSON.stringify(results));
