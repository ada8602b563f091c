// Checks a speedscope file two ways and prints the outcome as JSON:
//   node speedscope_check.mjs FILE SCREENSHOT_DIR
// against the JSON schema the speedscope package ships (with ajv), and by
// importing it into the speedscope app (offline, from the package) in
// headless Chromium, collecting any page errors.
import fs from 'node:fs';
import path from 'node:path';
import { createRequire } from 'node:module';
import { pathToFileURL } from 'node:url';
import Ajv from 'ajv';
import { launch, watchedPage } from './browser.mjs';

const require = createRequire(import.meta.url);
const [file, shots] = process.argv.slice(2);
const release = path.dirname(require.resolve('speedscope/dist/release/index.html'));

async function main() {
  const schema = JSON.parse(fs.readFileSync(path.join(release, 'file-format-schema.json'), 'utf8'));
  const ajv = new Ajv({ allErrors: true, strict: false });
  const validate = ajv.compile(schema);
  const data = JSON.parse(fs.readFileSync(file, 'utf8'));
  const out = { valid: validate(data), schema_errors: validate.errors || [], errors: [] };
  const { context, close } = await launch();
  try {
    const page = await watchedPage(context, out.errors);
    await page.goto(pathToFileURL(path.join(release, 'index.html')).href);
    await page.setInputFiles('input#file', file);
    await page.waitForFunction(() => / - speedscope$/.test(document.title), null, { timeout: 15000 });
    out.title = await page.title();
    await page.screenshot({ path: path.join(shots, 'speedscope.png') });
  } finally {
    await close();
  }
  process.stdout.write(JSON.stringify(out) + '\n');
}

main().catch((e) => { console.error(String(e && e.stack || e)); process.exit(1); });
