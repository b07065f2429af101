// A console session through Porteiro's console gateway, in headless Chromium (playwright-core).
//
// Run by crates/porteiro/tests/console_gateway_e2e.rs (test `console_session_in_headless_chromium`),
// which starts `porteiro serve`, prepares a platform user with a Cloud console session, and
// passes in the environment:
//
//   GW_API          Porteiro's listener (http://127.0.0.1:PORT)
//   GW_SESSION      the session id; GW_LAUNCH_URL its one-time launch URL
//   GW_ADMIN_TOKEN  an administrator's API token (to drop the session)
//   GW_USER_ARN     the cloud IAM user's ARN; GW_NEW_USER a user name to create in the console
//   CHROMIUM        optional: the browser (default /usr/bin/chromium)

'use strict';

const test = require('node:test');
const assert = require('node:assert/strict');
const { chromium } = require('playwright-core');

function env(name) {
  const v = process.env[name];
  if (!v) {
    throw new Error(`${name} is not set: run these tests through crates/porteiro/tests/console_gateway_e2e.rs`);
  }
  return v;
}

const API = env('GW_API').replace(/\/$/, '');
const SESSION = env('GW_SESSION');
const LAUNCH_URL = env('GW_LAUNCH_URL');
const ADMIN_TOKEN = env('GW_ADMIN_TOKEN');
const USER_ARN = env('GW_USER_ARN');
const NEW_USER = env('GW_NEW_USER');
const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium';
const PREFIX = `/sessions/${SESSION}`;

test('a console session through Porteiro: launch, use, a form, the cut', async () => {
  const browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: ['--no-sandbox'] });
  try {
    const context = await browser.newContext();
    const page = await context.newPage();
    const received = [];
    page.on('response', async (r) => {
      received.push(JSON.stringify(await r.allHeaders()));
      try { received.push(await r.text()); } catch (_) { /* redirects have no body */ }
    });

    // The launch URL signs the browser in and moves on to the console, under /sessions/ID/.
    await page.goto(LAUNCH_URL);
    await page.waitForURL(`${API}${PREFIX}/console/`);
    await assert.doesNotReject(page.getByText(USER_ARN).first().waitFor());

    // One cookie, Porteiro's: HttpOnly, SameSite=Strict, for this session's path only.
    const cookies = await context.cookies();
    assert.equal(cookies.length, 1, JSON.stringify(cookies.map((c) => c.name)));
    assert.equal(cookies[0].name, 'porteiro_session');
    assert.equal(cookies[0].httpOnly, true);
    assert.equal(cookies[0].sameSite, 'Strict');
    assert.equal(cookies[0].path, PREFIX);
    assert.equal(await page.evaluate(() => document.cookie), '');

    // The console's own navigation and forms stay under /sessions/ID/.
    await page.getByRole('link', { name: 'IAM users' }).first().click();
    await page.waitForURL(`${API}${PREFIX}/console/iam/users`);
    await page.getByLabel('User name').fill(NEW_USER);
    await page.getByRole('button', { name: 'Create user' }).click();
    await page.waitForURL(`${API}${PREFIX}/console/iam/users/${NEW_USER}`);
    await assert.doesNotReject(page.getByRole('heading', { name: `IAM user ${NEW_USER}` }).waitFor());

    for (const r of received) {
      for (const forbidden of ['porteiro_console', 'porteiro_signin', 'SigninToken', 'name="password"']) {
        assert.ok(!r.includes(forbidden), `${forbidden} reached the browser`);
      }
    }

    // An administrator drops the session: the next page is "You have been disconnected".
    const dropped = await fetch(`${API}/api/v1/sessions/${SESSION}/drop`, {
      method: 'POST',
      headers: { Authorization: `Bearer ${ADMIN_TOKEN}` },
    });
    assert.equal(dropped.status, 200);
    const started = Date.now();
    await page.getByRole('link', { name: 'Home' }).first().click();
    await page.getByRole('heading', { name: 'You have been disconnected' }).waitFor();
    // The gateway's cut itself is timed (under a second) by the Rust end-to-end test; here the
    // time includes Chromium's navigation and rendering on a shared machine.
    assert.ok(Date.now() - started < 5000, `cut after ${Date.now() - started} ms`);
    await assert.doesNotReject(page.getByText('dropped by admin').waitFor());
    assert.equal((await context.cookies()).length, 0, 'the cookie is cleared');
  } finally {
    await browser.close();
  }
});
