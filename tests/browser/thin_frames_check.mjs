// Frames too thin to draw at full width are left to the page's script:
// opens a pycoreprof SVG in headless Chromium, lists the frames drawn, zooms
// into ZOOM_LABEL, lists them again with the hover text of THIN_LABEL, then
// searches SEARCH_REGEX and reports the matched share and which drawn
// frames it highlighted. Prints JSON for tests/e2e/test_outputs.py:
//   node thin_frames_check.mjs SVG ZOOM_LABEL THIN_LABEL SEARCH_REGEX
import { pathToFileURL } from 'node:url';
import { drawnFrames, launch, watchedPage } from './browser.mjs';

const [svg, zoomLabel, thinLabel, term] = process.argv.slice(2);
async function main() {
  const { context, close } = await launch();
  const errors = [];
  const out = {};
  try {
    const page = await watchedPage(context, errors);
    await page.goto(pathToFileURL(svg).href);
    out.initial = await drawnFrames(page);
    const index = out.initial.findIndex((f) => f.label === zoomLabel);
    if (index < 0) throw new Error(`no frame labelled ${zoomLabel}`);
    await page.locator('g.f').nth(index).click();
    out.zoomed = await drawnFrames(page);
    const thin = page.locator('g.f', { has: page.locator('title', { hasText: thinLabel }) });
    await thin.first().hover();
    out.hover = await page.textContent('#details');
    await page.evaluate((t) => search(t), term);
    out.matched_percent = await page.getAttribute('#matched', 'data-percent');
    out.searched = await drawnFrames(page);
    await page.click('#reset');
    out.reset = await drawnFrames(page);
  } finally {
    out.errors = errors;
    await close();
  }
  process.stdout.write(JSON.stringify(out) + '\n');
}

main().catch((e) => { console.error(String(e && e.stack || e)); process.exit(1); });
