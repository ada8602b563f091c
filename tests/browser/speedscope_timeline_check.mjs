// Opens a speedscope file in the speedscope app (offline, from the package)
// in headless Chromium, picks its Time Order view and reads it the way a
// person would: the mouse moved along the flame chart and the app's hover
// tooltip read at each step. The first row (from the top) where a frame's
// name matches PATTERN is read from left to right. Prints JSON:
//   node speedscope_timeline_check.mjs FILE SCREENSHOT_DIR PATTERN
//   {"title", "chart": {x, y, width, height}, "row": y,
//    "seen": [{"x", "name", "duration"} (name null where there is none)], "errors"}
import path from 'node:path';
import { createRequire } from 'node:module';
import { pathToFileURL } from 'node:url';
import { launch, watchedPage } from './browser.mjs';

const require = createRequire(import.meta.url);
const [file, shots, pattern] = process.argv.slice(2);
const release = path.dirname(require.resolve('speedscope/dist/release/index.html'));
const WIDTH = 1200;
const HEIGHT = 700;
const STEP = 15;        // pixels between mouse positions along the row
const ROWS = 8;         // rows of the flame chart looked at, from the top

// The tooltip's text: "1.03s (32%) phase_a\n/path/file.py:22".
function parseTip(text) {
  const m = /([0-9.]+\s*(?:ns|µs|us|ms|s|min|h))\s+\(([0-9.]+)%\)\s+(.+)/.exec(text);
  return m ? { duration: m[1], name: m[3].trim() } : null;
}

// The tooltip under the mouse at (X, Y), or null.
async function hover(page, x, y) {
  await page.mouse.move(x, y);
  const text = await page.evaluate(() => document.body.innerText);
  const tip = parseTip(text.slice(text.indexOf('Help') + 4));
  return tip ? { x, name: tip.name.split('\n')[0], duration: tip.duration } : { x, name: null };
}

async function main() {
  const out = { errors: [], seen: [] };
  const wanted = new RegExp(pattern);
  const { context, close } = await launch();
  try {
    const page = await watchedPage(context, out.errors);
    await page.setViewportSize({ width: WIDTH, height: HEIGHT });
    await page.goto(pathToFileURL(path.join(release, 'index.html')).href);
    await page.setInputFiles('input#file', file);
    await page.waitForFunction(() => / - speedscope$/.test(document.title), null, { timeout: 15000 });
    out.title = await page.title();
    await page.getByText('Time Order', { exact: false }).first().click();
    await page.waitForTimeout(500);
    // The flame chart: the tallest canvas that is not the page-wide overlay.
    out.chart = await page.$$eval('canvas', (cs) => cs.map((c) => c.getBoundingClientRect())
      .map((r) => ({ x: r.x, y: r.y, width: r.width, height: r.height }))
      .filter((r) => r.height < window.innerHeight - 1)
      .sort((a, b) => b.height - a.height)[0]);
    const { x, width } = out.chart;
    // Rows are 20 pixels high under the chart's time axis: find the row.
    for (let row = 0; row < ROWS && out.row === undefined; row++) {
      const y = Math.round(out.chart.y + 31 + 20 * row);
      for (const at of [0.2, 0.4, 0.6, 0.8]) {
        const tip = await hover(page, Math.round(x + width * at), y);
        if (tip.name && wanted.test(tip.name)) {
          out.row = y;
          break;
        }
      }
    }
    if (out.row !== undefined) {
      for (let at = x + 1; at < x + width - 1; at += STEP)
        out.seen.push(await hover(page, at, out.row));
      await page.mouse.move(Math.round(x + width / 2), out.row);
    }
    await page.screenshot({ path: path.join(shots, 'speedscope-timeline.png') });
  } finally {
    await close();
  }
  process.stdout.write(JSON.stringify(out) + '\n');
}

main().catch((e) => { console.error(String(e && e.stack || e)); process.exit(1); });
