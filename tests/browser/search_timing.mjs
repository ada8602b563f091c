// Opens a flame graph in headless Chromium and times loading it and one
// search through the page's own search(); prints JSON. For bench/.
//   node search_timing.mjs SVG REGEX
import { pathToFileURL } from 'node:url';
import { launch } from './browser.mjs';

const [svg, term] = process.argv.slice(2);

async function main() {
  const { context, close } = await launch();
  const out = { errors: [] };
  try {
    const page = await context.newPage();
    page.on('pageerror', (e) => out.errors.push(String(e)));
    const started = Date.now();
    await page.goto(pathToFileURL(svg).href);
    out.load_ms = Date.now() - started;
    out.frames = await page.$$eval('g.f', (gs) => gs.length);
    const searched = Date.now();
    out.matched = await page.evaluate((t) => { search(t); return document.getElementById('matched').textContent; }, term);
    out.search_ms = Date.now() - searched;
  } finally {
    await close();
  }
  process.stdout.write(JSON.stringify(out) + '\n');
}

main().catch((e) => { console.error(String(e && e.stack || e)); process.exit(1); });
