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
