// The embedded cloud's console in headless Chromium, driven by playwright-core.
//
// Run by crates/porteiro/tests/console_browser.rs, which starts `porteiro cloud serve`,
// prepares users, a role, temporary credentials and a federation login URL through the API,
// and passes them here in the environment:
//
//   CONSOLE_URL                  the cloud's base URL (http://127.0.0.1:PORT)
//   CONSOLE_ACCOUNT              the account id
//   CONSOLE_USER, CONSOLE_PASSWORD
//                                an IAM user with a login profile allowed iam:List* and iam:Get*
//   CONSOLE_DENIED_USER          a user name that user may not create
//   CONSOLE_DENIED_MESSAGE       the API's AccessDenied message for that CreateUser, word for word
//   CONSOLE_RESET_USER, CONSOLE_RESET_PASSWORD, CONSOLE_NEW_PASSWORD
//                                a user whose login profile requires a password reset
//   CONSOLE_FEDERATION_URL       a federation login URL (SessionDuration=900)
//   CONSOLE_ROLE                 the role's name; CONSOLE_ROLE_SESSION_ARN the assumed-role ARN
//   CONSOLE_CLOCK_OFFSET_FILE    the server's hidden --test-clock-offset-file
//   CONSOLE_SCREENSHOTS          optional: a directory to write screenshots of the main pages to
//   CHROMIUM                     optional: the browser (default /usr/bin/chromium)
//
// The tests run in order and share the browser: sign-in, use, sign-out, federation, expiry.

'use strict';

const test = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const path = require('node:path');
const { chromium } = require('playwright-core');

function env(name) {
  const v = process.env[name];
  if (!v) {
    throw new Error(`${name} is not set: run these tests through crates/porteiro/tests/console_browser.rs`);
  }
  return v;
}

const BASE = env('CONSOLE_URL').replace(/\/$/, '');
const ACCOUNT = env('CONSOLE_ACCOUNT');
const USER = env('CONSOLE_USER');
const PASSWORD = env('CONSOLE_PASSWORD');
const DENIED_USER = env('CONSOLE_DENIED_USER');
const DENIED_MESSAGE = env('CONSOLE_DENIED_MESSAGE');
const RESET_USER = env('CONSOLE_RESET_USER');
const RESET_PASSWORD = env('CONSOLE_RESET_PASSWORD');
const NEW_PASSWORD = env('CONSOLE_NEW_PASSWORD');
const FEDERATION_URL = env('CONSOLE_FEDERATION_URL');
const ROLE = env('CONSOLE_ROLE');
const ROLE_SESSION_ARN = env('CONSOLE_ROLE_SESSION_ARN');
const CLOCK_FILE = env('CONSOLE_CLOCK_OFFSET_FILE');
const SCREENSHOTS = process.env.CONSOLE_SCREENSHOTS || '';
const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium';

const USER_ARN = `arn:aws:iam::${ACCOUNT}:user/${USER}`;
const RESET_USER_ARN = `arn:aws:iam::${ACCOUNT}:user/${RESET_USER}`;
// "11 h 59 min 58 s", "14 min 59 s": the session countdown.
const COUNTDOWN = /^(\d+ h \d\d min \d\d s|\d+ min \d\d s)$/;

let browser;
// One browser context (cookie jar) per person.
let reader; // signs in with a password
let resetter; // must change the password first
let federated; // comes through the federation login URL

async function shot(page, name) {
  if (!SCREENSHOTS) {
    return;
  }
  fs.mkdirSync(SCREENSHOTS, { recursive: true });
  await page.screenshot({ path: path.join(SCREENSHOTS, `${name}.png`), fullPage: true });
}

async function newPage() {
  const context = await browser.newContext({ viewport: { width: 1280, height: 720 } });
  return context.newPage();
}

/** Presses `key` on `locator` and waits for the document it leads to; its response. */
async function submitWith(page, locator, key = 'Enter') {
  const navigation = page.waitForNavigation({ waitUntil: 'load' });
  await locator.press(key);
  return navigation;
}

/** Clicks and waits for the document it leads to; its response. */
async function clickThrough(page, locator) {
  const navigation = page.waitForNavigation({ waitUntil: 'load' });
  await locator.click();
  return navigation;
}

async function text(page, selector) {
  return ((await page.locator(selector).first().textContent()) || '').trim();
}

async function heading(page) {
  return text(page, 'main h1');
}

/** The session's seconds left as the server rendered them. */
async function remaining(page) {
  return Number(await page.locator('#countdown').getAttribute('data-remaining'));
}

/** Fills the sign-in form by its labels and submits it with Enter. */
async function signIn(page, user, password) {
  await page.getByLabel('Account ID (12 digits)').fill(ACCOUNT);
  await page.getByLabel('IAM user name').fill(user);
  const pw = page.getByLabel('Password', { exact: true });
  await pw.fill(password);
  return submitWith(page, pw);
}

/** Sets the cloud's clock offset (seconds) and waits until the server has applied it. */
async function setClockOffset(seconds) {
  const value = String(Math.trunc(seconds));
  fs.writeFileSync(CLOCK_FILE, `${value}\n`);
  const ack = `${CLOCK_FILE}.applied`;
  const deadline = Date.now() + 10_000;
  for (;;) {
    let applied = '';
    try {
      applied = fs.readFileSync(ack, 'utf8').trim();
    } catch {
      // not yet written
    }
    if (applied === value) {
      return;
    }
    if (Date.now() > deadline) {
      throw new Error(`the server did not apply the clock offset ${value} (ack: "${applied}")`);
    }
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}

test.before(async () => {
  browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      '--no-first-run',
      '--disable-quic',
    ],
  });
});

test.after(async () => {
  if (browser) {
    await browser.close();
  }
});

test('an unsigned visitor is sent to sign-in; a wrong password gets AWS\'s message', async () => {
  reader = await newPage();
  const first = await reader.goto(`${BASE}/console/`);
  assert.equal(new URL(reader.url()).pathname, '/signin');
  assert.equal(first.status(), 200);
  assert.equal(await heading(reader), 'Sign in as IAM user');
  await shot(reader, 'signin');

  const wrong = await signIn(reader, USER, `${PASSWORD}-wrong`);
  assert.equal(wrong.status(), 401);
  assert.equal(
    await text(reader, '[role=alert] .message'),
    'Your authentication information is incorrect. Please try again.',
  );
  // The form keeps the account and user, never the password.
  assert.equal(await reader.getByLabel('IAM user name').inputValue(), USER);
  assert.equal(await reader.getByLabel('Password', { exact: true }).inputValue(), '');
});

test('password sign-in (labels, keyboard) shows who am I and a running countdown', async () => {
  const resp = await signIn(reader, USER, PASSWORD);
  assert.equal(resp.status(), 200);
  assert.equal(new URL(reader.url()).pathname, '/console/');
  assert.equal(await heading(reader), 'Console home');
  assert.equal(await text(reader, '#principal-arn'), USER_ARN);
  assert.equal(await text(reader, '#account'), ACCOUNT);
  assert.equal(await text(reader, 'header .arn'), USER_ARN);
  assert.match(await text(reader, 'main'), /IAM user, signed in with a password/);
  // A password session lasts 12 hours.
  const left = await remaining(reader);
  assert.ok(left > 43_200 - 60 && left <= 43_200, `remaining ${left}`);
  const before = await text(reader, '#countdown');
  assert.match(before, COUNTDOWN);
  assert.match(before, /^(12 h 00 min 00 s|11 h 5\d min \d\d s)$/);
  // The script counts down every second.
  await reader.waitForFunction(
    (shown) => document.getElementById('countdown').textContent !== shown,
    before,
    { timeout: 5_000 },
  );
  assert.match(await text(reader, '#countdown'), COUNTDOWN);
  await shot(reader, 'home');
});

test('the users page is allowed; creating a user is denied with the API\'s message', async () => {
  const nav = reader.getByRole('navigation', { name: 'Services' });
  const list = await clickThrough(reader, nav.getByRole('link', { name: 'IAM users' }));
  assert.equal(list.status(), 200);
  assert.equal(await heading(reader), 'IAM users');
  const table = reader.getByRole('table', { name: 'IAM users' });
  for (const name of [USER, RESET_USER]) {
    assert.equal(await table.getByRole('link', { name, exact: true }).count(), 1, `${name} listed`);
  }
  await shot(reader, 'users');

  const field = reader.getByLabel('User name', { exact: true });
  await field.fill(DENIED_USER);
  const denied = await submitWith(reader, field);
  assert.equal(denied.status(), 403);
  assert.equal(await text(reader, '[role=alert] strong'), 'AccessDenied');
  assert.equal(await text(reader, '[role=alert] .message'), DENIED_MESSAGE);
  // The list is still shown under the error, without the user.
  assert.equal(await table.getByRole('link', { name: DENIED_USER, exact: true }).count(), 0);
  await shot(reader, 'denied');

  const detail = await clickThrough(reader, table.getByRole('link', { name: USER, exact: true }));
  assert.equal(detail.status(), 200);
  assert.equal(await heading(reader), `IAM user ${USER}`);
  assert.match(await text(reader, 'main dl'), new RegExp(USER_ARN.replace(/[/:]/g, '\\$&')));
});

test('the roles page shows the role and its trust policy', async () => {
  const nav = reader.getByRole('navigation', { name: 'Services' });
  await clickThrough(reader, nav.getByRole('link', { name: 'IAM roles' }));
  assert.equal(await heading(reader), 'IAM roles');
  const resp = await clickThrough(
    reader,
    reader.getByRole('table', { name: 'IAM roles' }).getByRole('link', { name: ROLE, exact: true }),
  );
  assert.equal(resp.status(), 200);
  assert.equal(await heading(reader), `IAM role ${ROLE}`);
  const trust = JSON.parse(await text(reader, 'main pre'));
  assert.equal(trust.Statement[0].Action, 'sts:AssumeRole');
  await shot(reader, 'role');
});

test('a login profile that requires a reset asks for a new password, then signs in', async () => {
  resetter = await newPage();
  await resetter.goto(`${BASE}/signin`);
  const ask = await signIn(resetter, RESET_USER, RESET_PASSWORD);
  assert.equal(ask.status(), 200);
  assert.equal(await heading(resetter), 'Change your password');
  assert.match(await text(resetter, '[role=status]'), /must be changed/);
  await shot(resetter, 'password-reset');

  // A confirmation that differs is refused, and the form is offered again.
  await resetter.getByLabel('New password', { exact: true }).fill(NEW_PASSWORD);
  const confirm = resetter.getByLabel('Confirm new password');
  await confirm.fill(`${NEW_PASSWORD}x`);
  const mismatch = await submitWith(resetter, confirm);
  assert.equal(mismatch.status(), 400);
  assert.equal(
    await text(resetter, '[role=alert] .message'),
    'The new password and its confirmation do not match.',
  );

  await resetter.getByLabel('New password', { exact: true }).fill(NEW_PASSWORD);
  await confirm.fill(NEW_PASSWORD);
  const done = await submitWith(resetter, confirm);
  assert.equal(done.status(), 200);
  assert.equal(new URL(resetter.url()).pathname, '/console/');
  assert.equal(await text(resetter, '#principal-arn'), RESET_USER_ARN);
});

test('signing out ends the session and sends the person to sign-in', async () => {
  await reader.goto(`${BASE}/console/`);
  const out = await clickThrough(reader, reader.getByRole('button', { name: 'Sign out' }));
  assert.equal(out.status(), 200);
  assert.equal(await heading(reader), 'Signed out');
  const cookies = await reader.context().cookies();
  assert.equal(cookies.filter((c) => c.name === 'porteiro_console').length, 0);
  await clickThrough(reader, reader.getByRole('link', { name: 'Sign in again' }));
  assert.equal(new URL(reader.url()).pathname, '/signin');
  await reader.goto(`${BASE}/console/iam/users`);
  assert.equal(new URL(reader.url()).pathname, '/signin');
});

test('the federation login URL opens the console as the assumed role', async () => {
  federated = await newPage();
  const resp = await federated.goto(FEDERATION_URL);
  assert.equal(resp.status(), 200);
  assert.equal(new URL(federated.url()).pathname, '/console/');
  assert.equal(await text(federated, '#principal-arn'), ROLE_SESSION_ARN);
  assert.match(await text(federated, 'main'), /signed in through the federation endpoint/);
  // SessionDuration=900: a 15-minute console session.
  const left = await remaining(federated);
  assert.ok(left > 840 && left <= 900, `remaining ${left}`);
  assert.match(await text(federated, '#countdown'), /^1[45] min \d\d s$/);
  await shot(federated, 'federated-home');

  const nav = federated.getByRole('navigation', { name: 'Services' });
  const roles = await clickThrough(federated, nav.getByRole('link', { name: 'IAM roles' }));
  assert.equal(roles.status(), 200);
  assert.equal(
    await federated.getByRole('table', { name: 'IAM roles' }).getByRole('link', { name: ROLE, exact: true }).count(),
    1,
  );

  // The sign-in token was single use.
  const again = await (await newPage()).goto(FEDERATION_URL);
  assert.equal(again.status(), 403);
});

test('the countdown reaches zero and the page shows that the session expired', async () => {
  await federated.goto(`${BASE}/console/`);
  const left = await remaining(federated);
  // Move the cloud's clock so that 5 seconds are left, then watch the page end by itself.
  await setClockOffset(left - 5);
  await federated.reload();
  const now = await remaining(federated);
  assert.ok(now >= 1 && now <= 5, `remaining ${now}`);
  await federated.waitForFunction(
    () => document.querySelector('main h1')?.textContent === 'Your session has ended',
    null,
    { timeout: 15_000 },
  );
  assert.equal(await text(federated, '[role=alert] .message'), 'Your session has expired.');
  assert.equal(
    await federated.getByRole('link', { name: 'Return to your identity broker' }).getAttribute('href'),
    'https://broker.example/',
  );
  await shot(federated, 'expired');
  // Ended for good: the cookie is gone and the console asks for a sign-in.
  await federated.goto(`${BASE}/console/`);
  assert.equal(new URL(federated.url()).pathname, '/signin');

  // The 12-hour password session is still on 15 minutes later...
  const resp = await resetter.goto(`${BASE}/console/`);
  assert.equal(resp.status(), 200);
  assert.equal(await text(resetter, '#principal-arn'), RESET_USER_ARN);
  assert.match(await text(resetter, '#countdown'), /^11 h 4\d min \d\d s$/);
});

test('a password session expires after 12 hours', async () => {
  await setClockOffset(43_200 + 60);
  const resp = await resetter.goto(`${BASE}/console/iam/users`);
  assert.equal(resp.status(), 401);
  assert.equal(await heading(resetter), 'Your session has ended');
  assert.equal(await text(resetter, '[role=alert] .message'), 'Your session has expired.');
  assert.equal(await resetter.getByRole('link', { name: 'Return to your identity broker' }).count(), 0);
  await clickThrough(resetter, resetter.getByRole('link', { name: 'Sign in again' }));
  assert.equal(new URL(resetter.url()).pathname, '/signin');
});
