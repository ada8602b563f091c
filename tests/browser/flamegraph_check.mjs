// Drives a pycoreprof SVG flame graph in headless Chromium and prints what
// it saw as JSON, for tests/e2e/test_outputs.py to check:
//   node flamegraph_check.mjs SVG SCREENSHOT_DIR ZOOM_LABEL SEARCH_REGEX [QUERY]
// frames drawn (label, width) at load, after a click on ZOOM_LABEL, after
// Reset Zoom, the hover text, the frames a search highlights, the matched
// text; with QUERY, the state restored from ?QUERY at load.
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { drawnFrames, launch, watchedPage } from './browser.mjs';

const [svg, shots, zoomLabel, term, query] = process.argv.slice(2);

// Every frame of the known profile is wide enough for its label.
async function frames(page) {
  const drawn = await drawnFrames(page);
  const bare = drawn.find((f) => f.text === null);
  if (bare) throw new Error(`frame ${bare.label} is drawn without its text`);
  return drawn;
}

async function main() {
  const { context, close } = await launch();
  const errors = [];
  const out = {};
  try {
    const page = await watchedPage(context, errors);
    const url = pathToFileURL(svg).href;
    const started = Date.now();
    await page.goto(url);
    out.load_ms = Date.now() - started;
    out.initial = await frames(page);
    const index = out.initial.findIndex((f) => f.label === zoomLabel);
    if (index < 0) throw new Error(`no frame labelled ${zoomLabel}`);
    const target = page.locator('g.f').nth(index);
    await target.hover();
    out.hover = await page.textContent('#details');
    await target.click();
    out.zoomed = await frames(page);
    out.url_after_zoom = page.url();
    await page.screenshot({ path: path.join(shots, 'flamegraph-zoomed.png') });
    await page.click('#reset');
    out.reset = await frames(page);
    page.once('dialog', (d) => d.accept(term));
    const searched = Date.now();
    await page.click('#search');
    await page.waitForFunction(() => document.getElementById('matched').textContent.trim() !== '');
    out.search_ms = Date.now() - searched;
    out.searched = await frames(page);
    out.matched = await page.textContent('#matched');
    out.url_after_search = page.url();
    await page.screenshot({ path: path.join(shots, 'flamegraph-search.png') });
    // Escape clears the search and the zoom; Ctrl-F opens the search again.
    await page.keyboard.press('Escape');
    out.after_escape = await page.textContent('#matched');
    page.once('dialog', (d) => d.accept(term));
    await page.keyboard.press('Control+f');
    await page.waitForFunction(() => document.getElementById('matched').textContent.trim() !== '');
    out.after_ctrl_f = await page.textContent('#matched');
    if (query) {
      await page.goto(url + '?' + query);
      out.restored = await frames(page);
      out.restored_matched = await page.textContent('#matched');
    }
  } finally {
    out.errors = errors;
    await close();
  }
  process.stdout.write(JSON.stringify(out) + '\n');
}

main().catch((e) => { console.error(String(e && e.stack || e)); process.exit(1); });
