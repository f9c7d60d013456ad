'use strict';
// driver.js drives Debian's Chromium through playwright-core for
// internal/browsertest/browser_test.go. It never downloads a browser.
//
//   node driver.js '{"userDataDir": "...", "spki": ["base64 sha256 of an SPKI", ...]}'
//
// Protocol, one JSON object per line: once Chromium runs it prints
// {"ready": true, "version": "..."}; then it reads commands from stdin,
// {"id": 1, "cmd": "open", "page": "p1", "url": "...", "timeout": 10000},
// runs them one at a time, in order, and answers each with
// {"id": 1, "value": ...} or {"id": 1, "error": "..."}. Nothing else goes
// to stdout; the pages' console and errors go to stderr. Every command is
// bounded by its timeout (default 10 s). It exits after "quit" or when
// stdin closes, closing the browser first.
//
// Commands (page names are chosen by the caller):
//   open {page, url}              a new tab at url, after its load event
//   call {page, fn, args}         await window.bt[fn](...args) in the page (page.js)
//   close {page}                  close the tab without running unload handlers
//   goto {page, url}              navigate an open tab
//   click {page, selector}        click the element
//   fill {page, selector, value}  type into an input
//   select {page, selector, value} choose an option of a select
//   value {page, selector}        an input's value
//   text {page, selector}         the element's textContent, once it is attached
//   count {page, selector}        how many elements match now
//   screenshot {page, path}       full-page PNG
//   quit

const { chromium } = require('playwright-core');
const readline = require('node:readline');

const cfg = JSON.parse(process.argv[2] || '{}');
const pages = new Map();
let context;

function send(obj) {
  process.stdout.write(JSON.stringify(obj) + '\n');
}

function log(msg) {
  process.stderr.write(`driver: ${msg}\n`);
}

function page(name) {
  const p = pages.get(name);
  if (!p) throw new Error(`no open page named ${JSON.stringify(name)}`);
  return p;
}

const commands = {
  async open(c) {
    if (pages.has(c.page)) throw new Error(`page ${c.page} is already open`);
    const p = await context.newPage();
    pages.set(c.page, p);
    p.setDefaultTimeout(c.timeout);
    p.on('console', (m) => log(`[${c.page}] console.${m.type()}: ${m.text()}`));
    p.on('pageerror', (e) => log(`[${c.page}] page error: ${e.message}`));
    p.on('websocket', (ws) => {
      log(`[${c.page}] websocket open ${ws.url()}`);
      ws.on('socketerror', (e) => log(`[${c.page}] websocket error ${ws.url()}: ${e}`));
      ws.on('close', () => log(`[${c.page}] websocket closed ${ws.url()}`));
    });
    await p.goto(c.url, { waitUntil: 'load', timeout: c.timeout });
    return null;
  },
  async call(c) {
    return page(c.page).evaluate(([fn, args]) => {
      if (!window.bt || typeof window.bt[fn] !== 'function') {
        throw new Error(`window.bt.${fn} is not a function: is page.js loaded?`);
      }
      return window.bt[fn](...args);
    }, [c.fn, c.args || []]);
  },
  async close(c) {
    const p = page(c.page);
    pages.delete(c.page);
    await p.close({ runBeforeUnload: false });
    return null;
  },
  async goto(c) {
    await page(c.page).goto(c.url, { waitUntil: 'load', timeout: c.timeout });
    return null;
  },
  async click(c) {
    await page(c.page).locator(c.selector).click({ timeout: c.timeout });
    return null;
  },
  async fill(c) {
    await page(c.page).locator(c.selector).fill(c.value, { timeout: c.timeout });
    return null;
  },
  async select(c) {
    await page(c.page).locator(c.selector).selectOption(c.value, { timeout: c.timeout });
    return null;
  },
  async value(c) {
    return page(c.page).locator(c.selector).inputValue({ timeout: c.timeout });
  },
  async text(c) {
    return page(c.page).locator(c.selector).textContent({ timeout: c.timeout });
  },
  async count(c) {
    return page(c.page).locator(c.selector).count();
  },
  async screenshot(c) {
    await page(c.page).screenshot({ path: c.path, fullPage: true, timeout: c.timeout });
    return null;
  },
};

function bounded(promise, ms, what) {
  let timer;
  const timeout = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: timed out after ${ms} ms`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

async function shutdown(code) {
  if (context) {
    await bounded(context.close(), 10000, 'closing the browser').catch((e) => log(e.message));
  }
  process.exit(code);
}

async function main() {
  const args = [
    '--headless',
    '--no-sandbox',
    '--disable-gpu',
    '--disable-quic',
    '--no-first-run',
    '--disable-background-networking',
    '--disable-component-update',
    '--disable-sync',
  ];
  if (cfg.spki && cfg.spki.length > 0) {
    // Trust exactly these test keys; needs --user-data-dir, which
    // launchPersistentContext passes.
    args.push('--ignore-certificate-errors-spki-list=' + cfg.spki.join(','));
  }
  context = await chromium.launchPersistentContext(cfg.userDataDir, {
    executablePath: cfg.chromium || '/usr/bin/chromium',
    headless: true,
    args,
    timeout: 30000,
    viewport: { width: 1280, height: 800 },
  });
  for (const p of context.pages()) await p.close(); // the tab it opens with
  const browser = context.browser();
  send({ ready: true, version: browser ? browser.version() : '' });

  const rl = readline.createInterface({ input: process.stdin, crlfDelay: Infinity });
  for await (const line of rl) {
    if (!line.trim()) continue;
    let c;
    try {
      c = JSON.parse(line);
    } catch (e) {
      log(`not JSON: ${line}`);
      continue;
    }
    if (c.cmd === 'quit') {
      send({ id: c.id, value: null });
      break;
    }
    c.timeout = c.timeout || 10000;
    const run = commands[c.cmd];
    try {
      if (!run) throw new Error(`unknown command ${JSON.stringify(c.cmd)}`);
      const value = await bounded(run(c), c.timeout + 1000, `${c.cmd} ${c.page || ''}`);
      send({ id: c.id, value: value === undefined ? null : value });
    } catch (e) {
      send({ id: c.id, error: String((e && e.message) || e) });
    }
  }
  await shutdown(0);
}

main().catch((e) => {
  log(`fatal: ${(e && e.stack) || e}`);
  shutdown(1);
});
