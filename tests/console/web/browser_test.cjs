// The page in a real browser (Debian's chromium, headless, driven by playwright-core) against a
// real ota_console with two ota_mqtt devices (started by browser_test.sh, which passes the
// environment below). It uses the page as a person would: token, upload, verify rollout, watch
// both tasks succeed through the live events, devices, the version chart, then a second rollout
// from the form (live count of matching devices) that is canceled. Screenshots: OTA_TEST_SHOTS.
'use strict';

const fs = require('fs');
const path = require('path');
const { chromium } = require(path.join(process.env.OTA_NODE_MODULES, 'playwright-core'));

const url = process.env.OTA_TEST_URL;
const token = fs.readFileSync(process.env.OTA_TEST_TOKEN_FILE, 'utf8').trim();
const pk = process.env.OTA_TEST_PK;
const devices = process.env.OTA_TEST_DEVICES.split(' ');
const work = process.env.OTA_TEST_WORK;
const shots = process.env.OTA_TEST_SHOTS;

let step = 'start';
function log(text) { console.log('[browser] ' + text); }

async function shot(page, name) {
  const file = path.join(shots, name + '.png');
  await page.screenshot({ path: file, fullPage: true });
  log('screenshot ' + file);
}

/** Waits (bounded) until fn(arg) is true in the page; names the step when it times out. */
async function until(page, what, fn, arg, timeout) {
  step = what;
  await page.waitForFunction(fn, arg, { timeout: timeout || 30000, polling: 200 });
  log('ok: ' + what);
}

async function main() {
  const browser = await chromium.launch({
    executablePath: process.env.OTA_CHROMIUM,
    headless: true,
    // Root in a container has no user namespace for chromium's sandbox.
    args: ['--no-sandbox', '--disable-dev-shm-usage'],
  });
  let page;
  try {
    // The console's certificate is signed by the lab's private CA, which chromium does not know.
    const context = await browser.newContext({ ignoreHTTPSErrors: true, viewport: { width: 1280, height: 900 } });
    page = await context.newPage();
    const errors = [];
    page.on('pageerror', (e) => errors.push(e.message));

    step = 'open the page';
    await page.goto(url + '/', { waitUntil: 'load', timeout: 30000 });
    await page.locator('#token-input').waitFor({ state: 'visible', timeout: 10000 });
    await shot(page, '00-token');
    // A wrong token is refused by the API and the page asks again.
    await page.fill('#token-input', 'not-the-token');
    await page.click('#token-save');
    await until(page, 'a wrong token is refused', () => !document.getElementById('view-token').hidden &&
      document.getElementById('message').textContent.includes('refused'));
    await page.fill('#token-input', token);
    await page.click('#token-save');
    await until(page, 'the firmware view shows', () => !document.getElementById('view-firmware').hidden);
    await until(page, 'live events connected', () => document.getElementById('live-status').textContent === 'live');

    // Upload 1.1.0.
    await page.fill('#fw-product', pk);
    await page.fill('#fw-version', '1.1.0');
    await page.setInputFiles('#fw-file', path.join(work, 'firmware-1.1.0.bin'));
    await page.click('#fw-upload');
    await until(page, 'upload 1.1.0', () => document.getElementById('fw-upload-status').textContent.startsWith('uploaded #'));
    const fw1 = await page.getAttribute('#fw-upload-status', 'data-firmware-id');
    await until(page, 'the firmware row shows, not verified', (id) => {
      const row = document.querySelector('[data-testid="fw-row-' + id + '"]');
      return row && row.querySelector('[data-testid="fw-verified"]').textContent === 'not verified';
    }, fw1);
    await shot(page, '01-firmware-uploaded');

    // Verify rollout on both devices; the view follows through the live events only.
    await page.selectOption('#verify-firmware', fw1);
    await page.fill('#verify-devices', devices.join(', '));
    await page.click('#verify-start');
    await until(page, 'the rollout view opens', () => /^#\/rollouts\/\d+$/.test(location.hash) &&
      document.getElementById('rv-title').textContent.includes('verify'));
    const verifyId = (await page.evaluate(() => location.hash)).split('/')[2];
    await until(page, 'both verify tasks succeed', () =>
      document.getElementById('rv-state').getAttribute('data-state') === 'completed' &&
      document.getElementById('count-succeeded').textContent === '2' && document.getElementById('count-total').textContent === '2', null, 90000);
    const states = await page.$$eval('#rv-tasks tr[data-testid="task-row"]', (rows) => rows.map((r) => r.getAttribute('data-state')));
    if (states.length !== 2 || states.some((s) => s !== 'succeeded')) throw new Error('task rows: ' + states.join(','));
    await shot(page, '02-verify-rollout-succeeded');

    step = 'firmware verified';
    await page.goto(url + '/#/firmware');
    await until(page, 'the firmware is verified', (id) => {
      const row = document.querySelector('[data-testid="fw-row-' + id + '"]');
      return row && row.querySelector('[data-testid="fw-verified"]').textContent === 'verified';
    }, fw1);

    // Devices and one device's history.
    await page.goto(url + '/#/devices');
    await page.fill('#dev-product', pk);
    await page.click('#dev-search');
    await until(page, 'both devices run 1.1.0', () => {
      const cells = [...document.querySelectorAll('#dev-table [data-testid="dev-versions"]')];
      return cells.length === 2 && cells.every((c) => c.textContent === '1.1.0');
    });
    await shot(page, '03-devices');
    await page.click('#dev-table a >> nth=0');
    await until(page, 'the device history shows the verify task', (id) =>
      [...document.querySelectorAll('#dv-tasks tr[data-testid="dv-task"]')].some((r) =>
        r.getAttribute('data-state') === 'succeeded' && r.querySelector('a').textContent === '#' + id), verifyId);
    await shot(page, '04-device-history');

    // Text from devices is never HTML: a name and a tag with markup show as typed.
    await page.goto(url + '/#/devices');
    await page.fill('#dev-product', process.env.OTA_TEST_XSS_PK);
    await page.click('#dev-search');
    await until(page, 'markup in a device name and tag shows as text', () => {
      const rows = [...document.querySelectorAll('#dev-table tr[data-testid="dev-row"]')];
      return rows.length === 1 && rows[0].textContent.includes('<i>xss-') &&
        rows[0].textContent.includes('<i>tag') && document.querySelectorAll('#dev-table i').length === 0;
    });

    // The version chart.
    await page.goto(url + '/#/versions');
    await page.fill('#ver-product', pk);
    await page.click('#ver-show');
    await until(page, 'the chart shows 2 devices at 1.1.0', () =>
      !!document.querySelector('#ver-chart svg g[data-version="1.1.0"][data-count="2"]'));
    await shot(page, '05-versions');

    // Upload 1.2.0 and start a slow rollout (1 push a minute) from the form; cancel it.
    await page.goto(url + '/#/firmware');
    await page.fill('#fw-product', pk);
    await page.fill('#fw-version', '1.2.0');
    await page.setInputFiles('#fw-file', path.join(work, 'firmware-1.2.0.bin'));
    await page.click('#fw-upload');
    await until(page, 'upload 1.2.0', () => document.getElementById('fw-upload-status').textContent.startsWith('uploaded #'));
    const fw2 = await page.getAttribute('#fw-upload-status', 'data-firmware-id');

    await page.goto(url + '/#/new-rollout');
    await until(page, 'the form lists 1.2.0', (id) => !!document.querySelector('#ro-firmware option[value="' + id + '"]'), fw2);
    await page.selectOption('#ro-firmware', fw2);
    await page.fill('#ro-name', 'canceled by the browser test');
    await page.check('#ro-force');
    await page.fill('#ro-source-versions', '1.1.0');
    await until(page, 'the live count says 2', () => document.getElementById('ro-matching').textContent === '2');
    await page.fill('#ro-device-names', devices[0]);
    await until(page, 'the live count follows the selection (1)', () => document.getElementById('ro-matching').textContent === '1');
    await page.fill('#ro-device-names', '');
    await until(page, 'the live count is 2 again', () => document.getElementById('ro-matching').textContent === '2');
    // Two phases: one device first, then the rest.
    await page.click('#ro-add-phase');
    await page.fill('#ro-phases tbody tr:nth-child(1) .ph-devices', '1');
    await page.fill('#ro-rate', '1');
    await page.fill('#ro-timeout', '15');
    await shot(page, '06-rollout-form');
    await page.click('#ro-submit');
    await until(page, 'the second rollout opens with two phase bars', (id) => /^#\/rollouts\/\d+$/.test(location.hash) &&
      location.hash !== '#/rollouts/' + id && document.getElementById('count-total').textContent === '2' &&
      !!document.querySelector('[data-testid="rv-phase-1"]'), verifyId);
    // Pause and resume (the second task waits a minute for its push, so the rollout is running).
    await until(page, 'pause is possible', () => !document.getElementById('rv-pause').disabled);
    await page.click('#rv-pause');
    await until(page, 'the rollout pauses', () =>
      document.getElementById('rv-state').getAttribute('data-state') === 'paused' &&
      !document.getElementById('rv-resume').disabled);
    await page.click('#rv-resume');
    await until(page, 'the rollout runs again', () =>
      document.getElementById('rv-state').getAttribute('data-state') === 'running');
    await until(page, 'cancel is possible', () => !document.getElementById('rv-cancel').disabled);
    await page.click('#rv-cancel');
    await until(page, 'the rollout ends canceled', () =>
      document.getElementById('rv-state').getAttribute('data-state') === 'canceled' &&
      Number(document.getElementById('count-canceled').textContent) >= 1 &&
      Number(document.getElementById('count-queued').textContent) + Number(document.getElementById('count-notified').textContent) + Number(document.getElementById('count-in_progress').textContent) === 0,
    null, 60000);
    if (!(await page.isDisabled('#rv-cancel'))) throw new Error('cancel still enabled on a canceled rollout');
    await page.selectOption('#rv-filter-state', 'canceled');
    await until(page, 'the task filter shows only canceled tasks', () => {
      const rows = [...document.querySelectorAll('#rv-tasks tr[data-testid="task-row"]')];
      return rows.length >= 1 && rows.every((r) => r.getAttribute('data-state') === 'canceled');
    });
    await shot(page, '07-rollout-canceled');

    await page.goto(url + '/#/rollouts');
    await until(page, 'the rollout list shows both', (ids) =>
      ids.every((id) => !!document.querySelector('[data-testid="rollout-row-' + id + '"]')), [verifyId]);
    await shot(page, '08-rollouts');
    if (errors.length) throw new Error('JavaScript errors in the page: ' + errors.join('; '));
    log('all steps passed');
  } catch (e) {
    console.error('[browser] FAILED at "' + step + '": ' + e.message);
    if (page) await shot(page, 'failure').catch(() => {});
    process.exitCode = 1;
  } finally {
    await browser.close();
  }
}

main().catch((e) => { console.error(e); process.exitCode = 1; });
