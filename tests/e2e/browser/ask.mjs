// Open the deployed demo UI in headless Chromium, ask a question and print
// what the page shows as JSON: {status, answer, mode, sources: [document ids]}.
// Only talks to the URL it is given (127.0.0.1 in the tests).
//
//   node ask.mjs https://127.0.0.1:8443 "How are secrets handled?"
//
// Chromium is Debian's /usr/bin/chromium (CHROMIUM to override); playwright-core
// downloads no browser.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium } from 'playwright-core';

const [url, question] = process.argv.slice(2);
if (!url || !question) {
  console.error('usage: node ask.mjs <url> <question>');
  process.exit(2);
}
const timeout = Number(process.env.ASK_TIMEOUT_MS || 60000);
const userDataDir = mkdtempSync(join(tmpdir(), 'ragstack-chromium-'));

const context = await chromium.launchPersistentContext(userDataDir, {
  executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
  headless: true,
  ignoreHTTPSErrors: true,
  args: [
    '--headless',
    '--no-sandbox',
    '--disable-gpu',
    '--disable-quic',
    '--no-first-run',
    '--disable-background-networking',
    '--disable-component-update',
    '--disable-sync',
    // The local deployment's certificate is self-signed.
    '--ignore-certificate-errors',
  ],
});
let exitCode = 0;
try {
  const page = context.pages()[0] || (await context.newPage());
  page.setDefaultTimeout(timeout);
  await page.goto(url, { waitUntil: 'domcontentloaded' });
  const status = page.getByTestId('api-status');
  await status.and(page.locator('[data-status="ready"]')).waitFor();
  await page.getByTestId('question-input').fill(question);
  await page.getByTestId('ask-button').click();
  await page.getByTestId('answer').waitFor();
  await page.getByTestId('source').first().waitFor();
  const result = {
    status: await status.getAttribute('data-status'),
    answer: (await page.getByTestId('answer').innerText()).trim(),
    mode: (await page.getByTestId('answer-mode').innerText()).trim(),
    sources: await page.getByTestId('source-document').allInnerTexts(),
  };
  console.log(JSON.stringify(result));
} catch (error) {
  console.error(`ask.mjs: ${error.message}`);
  exitCode = 1;
} finally {
  await context.close();
  rmSync(userDataDir, { recursive: true, force: true });
}
process.exit(exitCode);
