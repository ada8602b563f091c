// Headless Chromium for the browser tests: Debian's chromium (or
// $CHROMIUM) driven by playwright-core, with a fresh profile directory and
// nothing that reaches the network.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { execFileSync } from 'node:child_process';
import { chromium } from 'playwright-core';

export function chromiumPath() {
  if (process.env.CHROMIUM) return process.env.CHROMIUM;
  for (const name of ['chromium', 'chromium-browser']) {
    try {
      return execFileSync('sh', ['-c', `command -v ${name}`]).toString().trim();
    } catch (e) { /* try the next name */ }
  }
  throw new Error('chromium not found on PATH (Debian package chromium)');
}

export async function launch() {
  const profile = fs.mkdtempSync(path.join(os.tmpdir(), 'pycoreprof-chromium-'));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: chromiumPath(),
    headless: true,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
           '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
  const close = async () => {
    await context.close();
    fs.rmSync(profile, { recursive: true, force: true });
  };
  return { context, close };
}

// A new page whose script errors and console errors are pushed on ERRORS.
export async function watchedPage(context, errors) {
  const page = await context.newPage();
  page.on('pageerror', (e) => errors.push(String(e)));
  page.on('console', (m) => { if (m.type() === 'error') errors.push(m.text()); });
  return page;
}

// The flame graph frames a page shows (display not none), each with its
// label (the title without its sample counts), title, bar geometry, the
// text drawn in it (null when none) and whether a search matched it.
export async function drawnFrames(page) {
  return page.$$eval('g.f', (gs) => gs.filter((g) => g.style.display !== 'none').map((g) => {
    const title = g.querySelector('title').textContent;
    const rect = g.querySelector('rect');
    const text = g.querySelector('text');
    return {
      label: title.replace(/ \([0-9,]+ samples?, [0-9.]+%[^()]*\)$/, ''),
      title,
      width: +rect.getAttribute('width'),
      x: +rect.getAttribute('x'),
      y: +rect.getAttribute('y'),
      text: text ? text.textContent : null,
      match: g.classList.contains('match'),
    };
  }));
}
