// Porteiro's web UI in headless Chromium, driven by playwright-core.
//
// Run by crates/porteiro/tests/web_browser.rs, which starts the real `porteiro serve` and runs
// this file twice, passing in the environment:
//
//   WEB_URL            the web UI's base URL (http://127.0.0.1:PORT)
//   WEB_CLOUD_URL      the embedded cloud's URL (for an account created through the UI)
//   WEB_ROOT_AK, WEB_ROOT_SK
//                      the embedded cloud's root key (the management key of that account)
//   WEB_ADMIN_PASSWORD the administrator's password (username admin)
//   WEB_CLOCK_OFFSET_FILE
//                      the server's test-only --test-clock-offset-file (seconds added to the
//                      manager's and the cloud's clocks): sessions end by their own duration
//   WEB_AWS            the aws CLI, run with a JIT session's gateway credentials as shown
//   WEB_PHASE          `setup`: an administrator creates a platform user, an account, a cloud IAM
//                      user and an access group; then the wrapper creates the role `Admin` in
//                      the cloud, trusting that cloud IAM user; `use`: JIT settings (Information
//                      and AWS tabs), a requirement error next to its control, a credential, a
//                      JIT session with its countdown and aws CLI calls through the API gateway,
//                      a Cloud console session used through the console gateway, Remote
//                      Sessions filters and drop ("You have been disconnected"), the console
//                      session's expiry (the countdown reaches the end; the console and the
//                      session's page say "You have been disconnected"), local times in the
//                      browser's time zone, Portuguese (with its own expiry), CSRF, sign-out.
//                      `audit`: replay and verify of the recorder's recordings of what ana did,
//                      and export. `tamper`: after the wrapper changed one byte of the stored
//                      console recording (line WEB_TAMPERED_LINE), Verify says Broken there.
//                      `pt`: the same story in Portuguese for bia (setup, a console session
//                      through Porteiro, drop, the gateway's page, replay and verify).
//   WEB_SCREENSHOTS    optional: a directory to write docs screenshots (web-*.png) to
//   CHROMIUM           optional: the browser (default /usr/bin/chromium)

'use strict';

const test = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const path = require('node:path');
const { execFile } = require('node:child_process');
const { chromium } = require('playwright-core');

function env(name) {
  const v = process.env[name];
  if (!v) {
    throw new Error(`${name} is not set: run these tests through crates/porteiro/tests/web_browser.rs`);
  }
  return v;
}

const BASE = env('WEB_URL').replace(/\/$/, '');
const CLOUD_URL = env('WEB_CLOUD_URL');
const ROOT_AK = env('WEB_ROOT_AK');
const ROOT_SK = env('WEB_ROOT_SK');
const ADMIN_PASSWORD = env('WEB_ADMIN_PASSWORD');
const PHASE = env('WEB_PHASE');
const CLOCK_FILE = env('WEB_CLOCK_OFFSET_FILE');
const AWS = env('WEB_AWS');
// The people's browsers run in São Paulo (UTC−3): the pages show local times.
const TIME_ZONE = 'America/Sao_Paulo';
const SCREENSHOTS = process.env.WEB_SCREENSHOTS || '';
const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium';

const ANA_PASSWORD = 'Ana-Password-2026';
// "59 min 58 s", "1 h 00 min 00 s": the countdown.
const COUNTDOWN = /^(\d+ h \d\d min \d\d s|\d+ min \d\d s)$/;

let browser;

async function shot(page, name) {
  if (!SCREENSHOTS) {
    return;
  }
  fs.mkdirSync(SCREENSHOTS, { recursive: true });
  await page.screenshot({ path: path.join(SCREENSHOTS, `web-${name}.png`), fullPage: true });
}

async function newPage(locale = 'en-US', timezoneId = 'UTC') {
  const context = await browser.newContext({ viewport: { width: 1280, height: 800 }, locale, timezoneId });
  return context.newPage();
}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

// The offset (seconds) this run has put in the server's clock file.
let clockOffset = 0;

/** Moves the server's clocks `seconds` forward and waits until the server has applied it. */
async function advanceClock(seconds) {
  clockOffset += Math.ceil(seconds);
  const tmp = `${CLOCK_FILE}.tmp`;
  fs.writeFileSync(tmp, `${clockOffset}\n`);
  fs.renameSync(tmp, CLOCK_FILE);
  const deadline = Date.now() + 10000;
  for (;;) {
    let applied = '';
    try {
      applied = fs.readFileSync(`${CLOCK_FILE}.applied`, 'utf8').trim();
    } catch {
      applied = '';
    }
    if (applied === String(clockOffset)) {
      return;
    }
    if (Date.now() > deadline) {
      throw new Error(`the server did not apply the clock offset ${clockOffset} (ack: "${applied}")`);
    }
    await sleep(50);
  }
}

/** A session's status by the server's clock: { status, expires_at, now }. */
async function sessionStatus(page, id) {
  const resp = await page.context().request.get(`${BASE}/my/sessions/${id}/status`, {
    headers: { Accept: 'application/json' },
  });
  assert.equal(resp.status(), 200);
  return resp.json();
}

/** The `export NAME=VALUE` lines of a page's #credentials. */
async function shownCredentials(page) {
  const text = (await page.locator('#credentials').textContent()) || '';
  const vars = {};
  for (const line of text.split('\n')) {
    const m = /^export ([A-Z_]+)=(.*)$/.exec(line.trim());
    if (m) {
      vars[m[1]] = m[2];
    }
  }
  return vars;
}

/** Runs the aws CLI as the person would after pasting the lines: { code, stdout, stderr }. */
function awsCli(vars, args) {
  const childEnv = {};
  for (const [k, v] of Object.entries(process.env)) {
    if (!k.startsWith('AWS_')) {
      childEnv[k] = v;
    }
  }
  Object.assign(childEnv, vars, {
    AWS_CONFIG_FILE: '/dev/null',
    AWS_SHARED_CREDENTIALS_FILE: '/dev/null',
    AWS_EC2_METADATA_DISABLED: 'true',
    AWS_MAX_ATTEMPTS: '1',
  });
  return new Promise((resolve) => {
    execFile(AWS, [...args, '--output', 'json'], { env: childEnv, timeout: 60000 }, (err, stdout, stderr) => {
      resolve({ code: err ? (typeof err.code === 'number' ? err.code : 1) : 0, stdout, stderr });
    });
  });
}

/** What a <time datetime> should read in the browser: local time in the page's language. */
function localTime(iso, lang) {
  return new Intl.DateTimeFormat(lang, {
    year: 'numeric', month: '2-digit', day: '2-digit',
    hour: '2-digit', minute: '2-digit', second: '2-digit', hour12: false, timeZoneName: 'short',
    timeZone: TIME_ZONE,
  }).format(new Date(iso));
}

/** Every <time> on the page shows its local time (the UTC text is its title). */
async function assertLocalTimes(page, lang) {
  const times = await page.locator('time[datetime]').evaluateAll((els) =>
    els.map((e) => ({ iso: e.getAttribute('datetime'), text: e.textContent, title: e.getAttribute('title') })));
  assert.ok(times.length > 0, 'times on the page');
  for (const t of times) {
    assert.match(t.iso, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
    assert.equal(t.text, localTime(t.iso, lang));
    assert.doesNotMatch(t.text, /UTC/);
    assert.match(t.title, / UTC$/);
  }
  return times;
}

/** Waits for the document that `action` leads to. */
async function through(page, action) {
  const navigation = page.waitForNavigation({ waitUntil: 'load' });
  await action();
  return navigation;
}

async function heading(page) {
  return ((await page.locator('main h1').textContent()) || '').trim();
}

/** Signs in with the keyboard: the labels, then Enter. */
async function signIn(page, user, password, labels = { user: 'Username', password: 'Password' }) {
  await page.goto(`${BASE}/`);
  assert.match(page.url(), /\/signin\?next=/);
  await page.getByLabel(labels.user).fill(user);
  const pw = page.getByLabel(labels.password, { exact: true });
  await pw.fill(password);
  return through(page, () => pw.press('Enter'));
}

test.before(async () => {
  browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: ['--no-sandbox', '--disable-dev-shm-usage'],
  });
});

test.after(async () => {
  if (browser) {
    await browser.close();
  }
});

if (PHASE === 'setup') {
  let admin;

  test('an administrator signs in with the keyboard; the pages carry the security headers', async () => {
    admin = await newPage();
    await admin.goto(`${BASE}/`);
    await shot(admin, 'signin');
    const resp = await signIn(admin, 'admin', ADMIN_PASSWORD);
    assert.equal(resp.status(), 200);
    assert.equal(await heading(admin), 'Home');
    const headers = resp.headers();
    assert.match(headers['content-security-policy'], /default-src 'self'/);
    assert.match(headers['content-security-policy'], /frame-ancestors 'none'/);
    assert.equal(headers['x-frame-options'], 'DENY');
    assert.equal(headers['cache-control'], 'no-store');
    const cookies = await admin.context().cookies();
    const session = cookies.find((c) => c.name === 'porteiro_session');
    assert.ok(session, 'the session cookie');
    assert.equal(session.httpOnly, true);
    assert.equal(session.sameSite, 'Strict');
    // Nothing secret in the page or the URL.
    assert.ok(!(await admin.content()).includes(ADMIN_PASSWORD));
    assert.ok(!admin.url().includes(ADMIN_PASSWORD));
    // The menu as the seed lays it out.
    const nav = admin.getByRole('navigation', { name: 'Main menu' });
    for (const label of ['Cloud console', 'JIT Access', 'Users', 'Credentials', 'Accounts', 'Access groups', 'Remote Sessions', 'Audit trail']) {
      assert.ok(await nav.getByRole('link', { name: label, exact: true }).first().isVisible(), label);
    }
    await shot(admin, 'home');
  });

  test('the administrator creates a platform user; a bad value is shown next to its field', async () => {
    await admin.goto(`${BASE}/platform-users`);
    const form = admin.locator('#new-user');
    await form.getByLabel('Name', { exact: true }).fill('Ana Lima');
    await form.getByLabel('Username').fill('ana');
    await form.getByLabel('E-mail').fill('ana@example.com');
    await form.getByLabel('Password').fill('short');
    let resp = await through(admin, () => form.getByRole('button', { name: 'Create' }).click());
    assert.equal(resp.status(), 422);
    const err = admin.locator('#new-user-password-error');
    assert.match(await err.textContent(), /12 to 256 characters/);
    assert.equal(await admin.locator('#new-user-password').getAttribute('aria-invalid'), 'true');
    // The other values are kept; the password is never written back.
    assert.equal(await form.getByLabel('Username').inputValue(), 'ana');
    assert.equal(await form.getByLabel('Password').inputValue(), '');
    await form.getByLabel('Password').fill(ANA_PASSWORD);
    resp = await through(admin, () => form.getByRole('button', { name: 'Create' }).click());
    assert.equal(resp.status(), 200);
    assert.match(await admin.locator('.notice').textContent(), /Platform user created: ana/);
    assert.ok(await admin.getByRole('cell', { name: 'ana@example.com' }).isVisible());
    await shot(admin, 'platform-users');
  });

  test('the administrator creates an account; Porteiro checks it', async () => {
    await admin.goto(`${BASE}/accounts`);
    const form = admin.locator('#new-account');
    await form.getByLabel('Name', { exact: true }).fill('second');
    await form.getByLabel('Endpoint URL').fill(CLOUD_URL);
    await form.getByLabel('Access key ID').fill(ROOT_AK);
    await form.getByLabel('Secret access key').fill(ROOT_SK);
    await through(admin, () => form.getByRole('button', { name: 'Create' }).click());
    assert.match(await admin.locator('.notice').textContent(), /Account created: second \(Connectable\)/);
    const row = admin.getByRole('row').filter({ hasText: 'second' });
    assert.match(await row.textContent(), /Connectable/);
    assert.ok(!(await admin.content()).includes(ROOT_SK), 'the secret is never shown');
    await shot(admin, 'accounts');
  });

  test('the administrator creates a cloud IAM user for ana; it is provisioned', async () => {
    await admin.goto(`${BASE}/users`);
    const form = admin.locator('#new-cloud-user');
    await form.getByLabel('Account').selectOption({ label: 'embedded' });
    await form.getByLabel('Owner (platform user)').selectOption({ label: 'ana' });
    await through(admin, () => form.getByRole('button', { name: 'Create' }).click());
    // The provisioning job runs at once; the answer may come before it (or the scheduler) ends.
    assert.match(await admin.locator('.notice').textContent(), /Cloud IAM user created: ana \((Pending|Provisioning|Provisioned)\)/);
    const row = admin.getByRole('row').filter({ hasText: 'Created through Cloud IAM' });
    const deadline = Date.now() + 15000;
    while (!/Provisioned/.test(await row.textContent())) {
      assert.ok(Date.now() < deadline, `not provisioned: ${await row.textContent()}`);
      await new Promise((resolve) => setTimeout(resolve, 500));
      await admin.reload();
    }
    await through(admin, () => row.getByRole('link', { name: 'Jobs' }).click());
    assert.match(await admin.locator('table').textContent(), /provision_user/);
    await shot(admin, 'cloud-users');
  });

  test('the administrator creates an access group with ana and the session permissions', async () => {
    await admin.goto(`${BASE}/groups`);
    await through(admin, () => admin.getByRole('link', { name: 'New access group' }).click());
    await admin.getByLabel('Name', { exact: true }).fill('engineers');
    await admin.getByLabel('Description').fill('People who open sessions');
    await admin.getByLabel('ana (Ana Lima)').check();
    await admin.getByLabel('Users can start sessions', { exact: true }).check();
    await admin.getByLabel('Users can start JIT sessions').check();
    await through(admin, () => admin.getByRole('button', { name: 'Save' }).click());
    const row = admin.getByRole('row').filter({ hasText: 'engineers' });
    assert.match(await row.textContent(), /ana/);
    assert.match(await row.textContent(), /Users can start JIT sessions/);
    await shot(admin, 'access-groups');
  });
}

if (PHASE === 'use') {
  let admin;
  let ana;
  let anaSession; // ana's JIT session page, left open
  let consolePage; // ana's Cloud console through the console gateway, left open
  let consoleId; // that session's id
  let jitVars; // the JIT session's gateway credentials, as shown once

  test('JIT settings: ⁝ Actions ➔ New, Account, Information and AWS tabs; the Duration error is next to it', async () => {
    admin = await newPage();
    await signIn(admin, 'admin', ADMIN_PASSWORD);
    await admin.goto(`${BASE}/settings/jit`);
    await admin.locator('details.menu summary').click();
    await through(admin, () => admin.getByRole('menuitem', { name: 'New' }).click());
    assert.equal(await heading(admin), 'New JIT Access');
    // Choosing the account reloads the form with its roles (the select submits itself).
    await through(admin, () => admin.getByLabel('Account').selectOption({ label: 'embedded' }));
    assert.match(admin.url(), /account=a-/);
    await admin.getByRole('group', { name: 'Active' }).getByLabel('Yes').check();
    // Information tab.
    const info = admin.getByRole('tab', { name: 'Information' });
    await info.click();
    await admin.getByLabel('Description').fill('Production access, one hour at most');
    // AWS tab, reached with the keyboard.
    await info.press('ArrowRight');
    const aws = admin.getByRole('tab', { name: 'AWS' });
    assert.equal(await aws.getAttribute('aria-selected'), 'true');
    assert.ok(await admin.locator('#panel-info').isHidden());
    await admin.getByRole('group', { name: 'JIT Enabled' }).getByLabel('Yes').check();
    await admin.getByLabel('Duration (seconds)').fill('600');
    await admin.getByLabel(/Admin \(max/).check();
    await shot(admin, 'jit-settings-form');
    let resp = await through(admin, () => admin.getByRole('button', { name: 'Save' }).click());
    assert.equal(resp.status(), 422);
    // The AWS tab is open again and the error sits under Duration.
    assert.equal(await admin.getByRole('tab', { name: 'AWS' }).getAttribute('aria-selected'), 'true');
    const err = admin.locator('#jit-duration-error');
    assert.ok(await err.isVisible());
    assert.match(await err.textContent(), /600 seconds is below the minimum JIT session duration of 900 seconds/);
    assert.equal(await admin.getByLabel('Description').inputValue(), 'Production access, one hour at most');
    await shot(admin, 'jit-settings-error');
    await admin.getByLabel('Duration (seconds)').fill('3600');
    resp = await through(admin, () => admin.getByRole('button', { name: 'Save' }).click());
    assert.equal(resp.status(), 200);
    assert.equal(await heading(admin), 'JIT Access');
    const row = admin.getByRole('row').filter({ hasText: 'embedded' });
    assert.match(await row.textContent(), /Yes.*Production access.*Yes.*3600.*Admin/);
    await shot(admin, 'jit-settings');
  });

  test('ana cannot start a JIT session without a credential: the unmet requirement says what to do', async () => {
    ana = await newPage('en-US', TIME_ZONE);
    await signIn(ana, 'ana', ANA_PASSWORD);
    await ana.goto(`${BASE}/remote/jit`);
    const row = ana.getByRole('row').filter({ hasText: 'ana' }).first();
    await through(ana, () => row.getByRole('link', { name: 'Start session' }).click());
    await ana.getByLabel('Role').selectOption('Admin');
    const resp = await through(ana, () => ana.getByRole('button', { name: 'Start session' }).click());
    assert.equal(resp.status(), 422);
    const alert = ana.locator('#jit-start .error');
    assert.match(await alert.textContent(), /has no credential/);
    assert.match(await alert.textContent(), /Cloud IAM ➔ Credentials ➔ New/);
    await shot(ana, 'jit-start-error');
  });

  test('the administrator creates a credential: the secret is shown once', async () => {
    await admin.goto(`${BASE}/credentials`);
    const form = admin.locator('#new-credential');
    await form.getByLabel('User').selectOption({ label: 'ana' });
    await through(admin, () => form.getByRole('button', { name: 'Create' }).click());
    const secret = ((await admin.locator('#secret-access-key').textContent()) || '').trim();
    assert.ok(secret.length >= 20, 'the secret is shown');
    await admin.goto(`${BASE}/credentials`);
    assert.ok(!(await admin.content()).includes(secret), 'and never again');
    assert.match(await admin.locator('table').textContent(), /AKIA/);
  });

  test('ana starts a JIT session, chooses the Role, sees the countdown and local times, and calls AWS through the gateway', async () => {
    await ana.goto(`${BASE}/remote/jit`);
    const row = ana.getByRole('row').filter({ hasText: 'ana' }).first();
    await through(ana, () => row.getByRole('link', { name: 'Start session' }).click());
    await ana.getByLabel('Role').selectOption('Admin');
    await ana.getByLabel('Duration (seconds)').fill('1800');
    const resp = await through(ana, () => ana.getByRole('button', { name: 'Start session' }).click());
    assert.equal(resp.status(), 200);
    assert.equal(await heading(ana), 'Session started');
    // The gateway's credentials, not the role's STS ones: every call goes through Porteiro.
    jitVars = await shownCredentials(ana);
    assert.match(jitVars.AWS_ACCESS_KEY_ID, /^PGWA/);
    assert.ok(jitVars.AWS_SECRET_ACCESS_KEY.length >= 40);
    assert.match(jitVars.AWS_ENDPOINT_URL, /^http:\/\/127\.0\.0\.1:\d+$/);
    assert.equal(jitVars.AWS_SESSION_TOKEN, undefined);
    assert.doesNotMatch(await ana.locator('#credentials').textContent(), /ASIA/);
    // Started and Expires in São Paulo time, in English.
    const [started, expires] = await assertLocalTimes(ana, 'en');
    assert.equal((Date.parse(expires.iso) - Date.parse(started.iso)) / 1000, 1800);
    assert.match(started.text, /GMT-3/);
    // Ana works: the aws CLI with the lines she was shown.
    const who = await awsCli(jitVars, ['sts', 'get-caller-identity']);
    assert.equal(who.code, 0, who.stderr);
    assert.match(JSON.parse(who.stdout).Arn, /^arn:aws:sts::\d{12}:assumed-role\/Admin\/ana/);
    const roles = await awsCli(jitVars, ['iam', 'list-roles']);
    assert.equal(roles.code, 0, roles.stderr);
    assert.ok(JSON.parse(roles.stdout).Roles.some((r) => r.RoleName === 'Admin'), roles.stdout);
    await through(ana, () => ana.getByRole('link', { name: /session's page/ }).click());
    assert.match(ana.url(), /\/my\/sessions\/ps-/);
    const countdown = ana.locator('#countdown');
    const first = ((await countdown.textContent()) || '').trim();
    assert.match(first, COUNTDOWN);
    assert.match(first, /^(29|30) min/);
    await ana.waitForFunction((t) => document.getElementById('countdown').textContent.trim() !== t, first, { timeout: 5000 });
    assert.match(((await countdown.textContent()) || '').trim(), COUNTDOWN);
    // Nothing secret on the session page.
    assert.ok(!(await ana.content()).includes('AWS_SECRET_ACCESS_KEY'));
    await shot(ana, 'session-countdown');
    anaSession = ana;
  });

  test('ana starts a Cloud console session from the Action column', async () => {
    const page = await ana.context().newPage();
    await page.goto(`${BASE}/remote/console`);
    const row = page.getByRole('row').filter({ hasText: 'ana' }).first();
    await shot(page, 'cloud-console');
    await through(page, () => row.getByRole('button', { name: 'Start session' }).click());
    assert.match(page.url(), /\/my\/sessions\/ps-/);
    assert.match(await page.locator('main').textContent(), /Cloud console/);
    // Opening the console: the web UI asks the console gateway for a one-time launch, and the
    // gateway signs in for ana and shows the cloud's console under /sessions/ID/.
    await through(page, () => page.getByRole('button', { name: 'Open the AWS console' }).click());
    await page.waitForURL(/\/sessions\/ps-[0-9a-f]+\/console\//, { timeout: 15000 });
    await page.waitForLoadState('load');
    assert.match(await page.locator('body').textContent(), /arn:aws:iam::\d{12}:user\//);
    consoleId = /\/sessions\/(ps-[0-9a-f]+)\//.exec(page.url())[1];
    // Ana works in the console through Porteiro: the roles (her cloud IAM user has no policy,
    // so the cloud says what she may not do), then the buckets.
    const services = page.getByRole('navigation', { name: 'Services' });
    await through(page, () => services.getByRole('link', { name: 'IAM roles' }).click());
    assert.match(page.url(), new RegExp(`/sessions/${consoleId}/console/iam/roles$`));
    assert.match(await page.locator('main').textContent(), /AccessDenied: User: arn:aws:iam::\d{12}:user\/ana is not authorized to perform: iam:ListRoles/);
    await through(page, () => services.getByRole('link', { name: 'S3' }).click());
    assert.match(page.url(), new RegExp(`/sessions/${consoleId}/console/s3$`));
    consolePage = page;
  });

  test('Remote Sessions: the administrator filters and drops the JIT session; ana is disconnected', async () => {
    await admin.goto(`${BASE}/pam/sessions`);
    await admin.getByLabel('User').fill('ana');
    await admin.getByLabel('Kind').selectOption({ label: 'JIT Access' });
    await admin.getByLabel('Status').selectOption({ label: 'Active' });
    await through(admin, () => admin.getByRole('button', { name: 'Filter' }).click());
    assert.match(admin.url(), /user=ana/);
    const rows = admin.locator('tbody tr');
    assert.equal(await rows.count(), 1);
    assert.match(await rows.first().textContent(), /127\.0\.0\.1/);
    await shot(admin, 'remote-sessions');
    await through(admin, () => rows.first().getByRole('button', { name: 'Drop' }).click());
    assert.match(await admin.locator('.notice').textContent(), /Session dropped/);
    // Ana's open page notices (it polls the status) and shows the disconnection.
    await anaSession.waitForFunction(() => document.querySelector('main h1').textContent.includes('disconnected'), null, { timeout: 15000 });
    assert.equal(await heading(anaSession), 'You have been disconnected');
    assert.match(await anaSession.locator('#disconnected').textContent(), /Dropped by admin/);
    await shot(anaSession, 'disconnected');
    // The gateway refuses the dropped session's credentials at once.
    const refused = await awsCli(jitVars, ['sts', 'get-caller-identity']);
    assert.notEqual(refused.code, 0);
    assert.match(refused.stderr, /ExpiredToken/);
  });

  test('the audit trail shows the changes, filtered', async () => {
    await admin.goto(`${BASE}/audit?entity=session`);
    const text = await admin.locator('table').textContent();
    assert.match(text, /session\.start/);
    assert.match(text, /session\.dropped/);
    assert.doesNotMatch(text, /user\.create/);
    await shot(admin, 'audit');
  });

  test('the console session ends by its own duration: the countdown reaches the end; ana is disconnected in the console', async () => {
    // An hour later by the server's clock, 20 seconds before the console session ends (time
    // enough to sign in again on a busy machine).
    const st = await sessionStatus(ana, consoleId);
    assert.equal(st.status, 'active');
    await advanceClock(st.expires_at - st.now - 20);
    // Her web sign-in has been idle meanwhile: she signs in again.
    await signIn(ana, 'ana', ANA_PASSWORD);
    const list = await ana.context().newPage();
    await list.goto(`${BASE}/my/sessions`);
    const row = list.getByRole('row').filter({ hasText: consoleId });
    const left = ((await row.locator('.countdown').textContent()) || '').trim();
    // 20 s were left when the clock moved; a fast machine shows all of them.
    assert.match(left, /^0 min ([01]\d|20) s$/);
    await assertLocalTimes(list, 'en');
    await shot(list, 'sessions-ending');
    await ana.goto(`${BASE}/my/sessions/${consoleId}`);
    assert.equal(await heading(ana), 'Session');
    // The countdowns reach the end; the session's page then turns into the disconnection.
    await list.waitForFunction((id) => {
      const r = Array.from(document.querySelectorAll('tr')).find((tr) => tr.textContent.includes(id));
      return r && r.querySelector('.countdown') && r.querySelector('.countdown').textContent.trim() === '0 min 00 s';
    }, consoleId, { timeout: 30000 });
    await ana.waitForFunction(() => document.querySelector('main h1').textContent.includes('disconnected'), null, { timeout: 30000 });
    assert.equal(await heading(ana), 'You have been disconnected');
    assert.match(await ana.locator('#disconnected').textContent(), /duration ended/);
    await assertLocalTimes(ana, 'en');
    await shot(ana, 'expired');
    await list.reload();
    assert.match(await list.getByRole('row').filter({ hasText: consoleId }).textContent(), /Expired/);
    await list.close();
    // In the console, the next page is Porteiro's "You have been disconnected".
    const services = consolePage.getByRole('navigation', { name: 'Services' });
    const cut = await through(consolePage, () => services.getByRole('link', { name: 'IAM users' }).click());
    assert.equal(cut.status(), 410);
    assert.match(await consolePage.locator('body').textContent(), /You have been disconnected/);
    assert.match(await consolePage.locator('body').textContent(), /expired/);
    await shot(consolePage, 'console-disconnected');
    await consolePage.close();
  });

  test('em português: Acesso remoto ➔ JIT Access, Iniciar sessão, Função, and the error next to Função', async () => {
    const pt = await newPage('pt-BR', TIME_ZONE);
    await pt.goto(`${BASE}/`);
    assert.equal(await heading(pt), 'Entrar');
    assert.equal(await pt.locator('html').getAttribute('lang'), 'pt-BR');
    await signIn(pt, 'ana', ANA_PASSWORD, { user: 'Usuário', password: 'Senha' });
    assert.equal(await heading(pt), 'Início');
    const nav = pt.getByRole('navigation', { name: 'Menu principal' });
    assert.match(await nav.textContent(), /Acesso remoto/);
    assert.match(await nav.textContent(), /Configurações/);
    assert.match(await nav.textContent(), /Grupos de acesso/);
    await pt.goto(`${BASE}/remote/jit`);
    assert.match(await pt.locator('.crumbs').textContent(), /Cloud IAM ➔ Acesso remoto ➔ JIT Access/);
    assert.ok(await pt.getByRole('columnheader', { name: 'Ação' }).isVisible());
    await shot(pt, 'pt-jit');
    const row = pt.getByRole('row').filter({ hasText: 'ana' }).first();
    await through(pt, () => row.getByRole('link', { name: 'Iniciar sessão' }).click());
    assert.ok(await pt.getByLabel('Função').isVisible());
    assert.ok(await pt.getByLabel('Duração (segundos)').isVisible());
    let resp = await through(pt, () => pt.getByRole('button', { name: 'Iniciar sessão' }).click());
    assert.equal(resp.status(), 422);
    const err = pt.locator('#jit-start-role-error');
    assert.match(await err.textContent(), /nenhuma Função foi escolhida: escolha uma das funções permitidas/);
    await shot(pt, 'pt-jit-error');
    await pt.getByLabel('Função').selectOption('Admin');
    resp = await through(pt, () => pt.getByRole('button', { name: 'Iniciar sessão' }).click());
    assert.equal(resp.status(), 200);
    assert.equal(await heading(pt), 'Sessão iniciada');
    assert.match(await pt.locator('.countdown-line').textContent(), /Termina em/);
    assert.match(((await pt.locator('#countdown').textContent()) || '').trim(), COUNTDOWN);
    // Horários locais, em português.
    const [started] = await assertLocalTimes(pt, 'pt-BR');
    assert.match(started.text, /^\d\d\/\d\d\/\d{4}/);
    // A sessão termina pela sua duração: a contagem chega ao fim e a página diz que ela foi
    // desconectada (entra de novo: o acesso ficou ocioso enquanto o relógio andou).
    await through(pt, () => pt.getByRole('link', { name: /página da sessão/ }).click());
    const ptId = /\/my\/sessions\/(ps-[0-9a-f]+)$/.exec(pt.url())[1];
    const st = await sessionStatus(pt, ptId);
    await advanceClock(st.expires_at - st.now - 15);
    await signIn(pt, 'ana', ANA_PASSWORD, { user: 'Usuário', password: 'Senha' });
    await pt.goto(`${BASE}/my/sessions/${ptId}`);
    assert.match(((await pt.locator('#countdown').textContent()) || '').trim(), /^0 min [01]\d s$/);
    await pt.waitForFunction(() => document.querySelector('main h1').textContent.includes('desconectado'), null, { timeout: 30000 });
    assert.equal(await heading(pt), 'Você foi desconectado');
    await assertLocalTimes(pt, 'pt-BR');
    await shot(pt, 'pt-expired');
    // Switch to English with the link; the choice sticks (cookie).
    await pt.goto(`${BASE}/remote/jit`);
    await through(pt, () => pt.getByRole('link', { name: 'English' }).click());
    assert.match(pt.url(), /\/remote\/jit$/);
    assert.equal(await heading(pt), 'JIT Access');
    assert.ok(await pt.getByRole('columnheader', { name: 'Action' }).isVisible());
    await pt.context().close();
  });

  test('a form without the CSRF token, or from another origin, is refused', async () => {
    // The Portuguese session's expiry moved the clock an hour: ana signs in again.
    await signIn(ana, 'ana', ANA_PASSWORD);
    let resp = await ana.context().request.post(`${BASE}/remote/console/start`, {
      form: { cloud_user_id: 'cu-0' },
      maxRedirects: 0,
    });
    assert.equal(resp.status(), 403);
    const csrf = await ana.locator('input[name=csrf]').first().inputValue();
    resp = await ana.context().request.post(`${BASE}/remote/console/start`, {
      form: { cloud_user_id: 'cu-0', csrf },
      headers: { Origin: 'https://evil.example' },
      maxRedirects: 0,
    });
    assert.equal(resp.status(), 403);
  });

  test('sign out ends the sign-in', async () => {
    await ana.goto(`${BASE}/my/sessions`);
    await shot(ana, 'my-sessions');
    await through(ana, () => ana.getByRole('button', { name: 'Sign out' }).click());
    assert.match(ana.url(), /\/signin\?why=out/);
    assert.match(await ana.locator('main').textContent(), /You have signed out/);
    await ana.goto(`${BASE}/my/sessions`);
    assert.match(ana.url(), /\/signin\?next=/);
  });
}

/** The `datetime-local` value (YYYY-MM-DDTHH:MM) of an instant in TIME_ZONE. */
function localInput(ms) {
  const parts = new Intl.DateTimeFormat('en-CA', {
    timeZone: TIME_ZONE, year: 'numeric', month: '2-digit', day: '2-digit',
    hour: '2-digit', minute: '2-digit', hourCycle: 'h23',
  }).formatToParts(new Date(ms));
  const part = (type) => parts.find((p) => p.type === type).value;
  return `${part('year')}-${part('month')}-${part('day')}T${part('hour')}:${part('minute')}`;
}

if (PHASE === 'audit') {
  test('an auditor replays and verifies the recordings of what ana did, and exports one', async () => {
    const admin = await newPage('en-US', TIME_ZONE);
    await signIn(admin, 'admin', ADMIN_PASSWORD);
    // The JIT session, dropped: the aws CLI calls ana made through the API gateway.
    await admin.goto(`${BASE}/pam/sessions?kind=jit&user=ana&status=dropped`);
    const rows = admin.locator('tbody tr');
    assert.equal(await rows.count(), 1);
    await assertLocalTimes(admin, 'en');
    // "Started after" is read in the browser's time zone (São Paulo, UTC−3): two minutes after
    // the session's start hides it, two minutes before shows it.
    const started = Date.parse(await rows.first().locator('time').first().getAttribute('datetime'));
    const filterFrom = async (ms) => {
      await admin.getByLabel('Started after').fill(localInput(ms));
      await through(admin, () => admin.getByRole('button', { name: 'Filter' }).click());
      return admin.locator('tbody tr').count();
    };
    assert.equal(await filterFrom(started + 120_000), 0, 'started before the filter');
    assert.match(await admin.locator('main').textContent(), /No sessions\./);
    assert.equal(await filterFrom(started - 120_000), 1, 'started after the filter');
    await through(admin, () => rows.first().getByRole('link', { name: 'Replay' }).click());
    assert.equal(await heading(admin), 'Replay');
    const replay = await admin.locator('table').textContent();
    assert.match(replay, /session start: jit session of ana/);
    assert.match(replay, /api sts:GetCallerIdentity -> 200/);
    assert.match(replay, /api iam:ListRoles -> 200/);
    assert.match(replay, /session end: /);
    await shot(admin, 'replay');
    await through(admin, () => admin.getByRole('link', { name: 'Verify' }).click());
    assert.match(await admin.locator('#verdict').textContent(), /^Verified/);
    await shot(admin, 'verify');
    const exportUrl = await admin.getByRole('link', { name: 'Export' }).getAttribute('href');
    const archive = await admin.context().request.get(`${BASE}${exportUrl}`);
    assert.equal(archive.status(), 200);
    assert.equal(archive.headers()['content-type'], 'application/x-tar');
    assert.match(archive.headers()['content-disposition'], /attachment; filename="ps-[0-9a-f]+\.tar"/);
    assert.ok((await archive.body()).includes(Buffer.from('events.jsonl')));
    assert.ok((await archive.body()).includes(Buffer.from('GetCallerIdentity')));

    // The console session, ended by its duration: the pages ana saw through the gateway.
    await admin.goto(`${BASE}/pam/sessions?kind=console&user=ana&status=expired`);
    const consoleRow = admin.locator('tbody tr').first();
    await through(admin, () => consoleRow.getByRole('link', { name: 'Replay' }).click());
    const pages = await admin.locator('table').textContent();
    assert.match(pages, /session start: console session of ana/);
    assert.match(pages, /GET \/console\/ -> 200[^\n]*\n\s*page: Console home/);
    assert.match(pages, /GET \/console\/iam\/roles -> 403[^\n]*\n\s*page: IAM roles/);
    assert.match(pages, /GET \/console\/s3 -> 403[^\n]*\n\s*page: S3 buckets/);
    assert.match(pages, /the session ended \(expired\)/);
    assert.match(pages, /session end: expired/);
    await shot(admin, 'replay-console');
    await through(admin, () => admin.getByRole('link', { name: 'Verify' }).click());
    assert.match(await admin.locator('#verdict').textContent(), /^Verified/);
  });
}

if (PHASE === 'tamper') {
  test('one byte changed in a stored recording: Verify names the changed event', async () => {
    const line = process.env.WEB_TAMPERED_LINE;
    assert.ok(line, 'WEB_TAMPERED_LINE is set by the test wrapper');
    const admin = await newPage('en-US', TIME_ZONE);
    await signIn(admin, 'admin', ADMIN_PASSWORD);
    await admin.goto(`${BASE}/pam/sessions?kind=console&user=ana&status=expired`);
    const consoleRow = admin.locator('tbody tr').first();
    await through(admin, () => consoleRow.getByRole('link', { name: 'Replay' }).click());
    await through(admin, () => admin.getByRole('link', { name: 'Verify' }).click());
    const verdict = await admin.locator('#verdict').textContent();
    assert.match(verdict, new RegExp(`^Broken: event seq \\d+ \\(line ${line}\\): the event was changed`));
    await shot(admin, 'verify-broken');
  });
}

if (PHASE === 'pt') {
  const BIA_PASSWORD = 'Bia-Senha-Forte-2026';
  const PT_LABELS = { user: 'Usuário', password: 'Senha' };

  test('em português, de ponta a ponta: o administrador prepara bia; bia usa o console pelo Porteiro e é desconectada; o auditor reproduz e verifica', async () => {
    const admin = await newPage('pt-BR', TIME_ZONE);
    await signIn(admin, 'admin', ADMIN_PASSWORD, PT_LABELS);
    assert.equal(await heading(admin), 'Início');

    // Usuários da plataforma: o erro fica ao lado do campo, em português.
    await admin.goto(`${BASE}/platform-users`);
    const form = admin.locator('#new-user');
    await form.getByLabel('Nome', { exact: true }).fill('Bia Souza');
    await form.getByLabel('Usuário').fill('bia');
    await form.getByLabel('E-mail').fill('bia@example.com');
    await form.getByLabel('Senha').fill('curta');
    let resp = await through(admin, () => form.getByRole('button', { name: 'Criar' }).click());
    assert.equal(resp.status(), 422);
    assert.match(await admin.locator('#new-user-password-error').textContent(), /de 12 a 256 caracteres/);
    await form.getByLabel('Senha').fill(BIA_PASSWORD);
    resp = await through(admin, () => form.getByRole('button', { name: 'Criar' }).click());
    assert.equal(resp.status(), 200);
    assert.ok(await admin.getByRole('cell', { name: 'bia@example.com' }).isVisible());
    // Um nome de usuário repetido: o conflito dito em português.
    await form.getByLabel('Nome', { exact: true }).fill('Outra Bia');
    await form.getByLabel('Usuário').fill('bia');
    await form.getByLabel('E-mail').fill('outra@example.com');
    await form.getByLabel('Senha').fill(BIA_PASSWORD);
    resp = await through(admin, () => form.getByRole('button', { name: 'Criar' }).click());
    assert.equal(resp.status(), 422);
    assert.match(await admin.locator('main').textContent(), /o nome de usuário bia já está em uso: escolha outro/);

    // Usuário do Cloud IAM de bia, provisionado.
    await admin.goto(`${BASE}/users`);
    const cloudUser = admin.locator('#new-cloud-user');
    await cloudUser.getByLabel('Conta').selectOption({ label: 'embedded' });
    await cloudUser.getByLabel('Dono (usuário da plataforma)').selectOption({ label: 'bia' });
    await through(admin, () => cloudUser.getByRole('button', { name: 'Criar' }).click());
    assert.match(await admin.locator('.notice').textContent(), /Usuário do Cloud IAM criado: bia/);
    const row = admin.getByRole('row').filter({ hasText: 'bia' }).first();
    const deadline = Date.now() + 15000;
    while (!/Provisionado/.test(await row.textContent())) {
      assert.ok(Date.now() < deadline, `não provisionado: ${await row.textContent()}`);
      await sleep(500);
      await admin.reload();
    }

    // Grupo de acesso: bia entra em engineers.
    await admin.goto(`${BASE}/groups`);
    const group = admin.getByRole('row').filter({ hasText: 'engineers' });
    await through(admin, () => group.getByRole('link', { name: 'Editar' }).click());
    await admin.getByLabel('bia (Bia Souza)').check();
    await through(admin, () => admin.getByRole('button', { name: 'Salvar' }).click());
    assert.match(await admin.getByRole('row').filter({ hasText: 'engineers' }).textContent(), /bia/);

    // bia abre uma sessão de Cloud console pela coluna Ação e trabalha no console pelo Porteiro.
    const bia = await newPage('pt-BR', TIME_ZONE);
    await signIn(bia, 'bia', BIA_PASSWORD, PT_LABELS);
    await bia.goto(`${BASE}/remote/console`);
    assert.ok(await bia.getByRole('columnheader', { name: 'Ação' }).isVisible());
    const start = bia.getByRole('row').filter({ hasText: 'bia' }).first();
    await through(bia, () => start.getByRole('button', { name: 'Iniciar sessão' }).click());
    assert.match(bia.url(), /\/my\/sessions\/ps-/);
    await through(bia, () => bia.getByRole('button', { name: 'Abrir o console da AWS' }).click());
    await bia.waitForURL(/\/sessions\/ps-[0-9a-f]+\/console\//, { timeout: 15000 });
    await bia.waitForLoadState('load');
    const biaId = /\/sessions\/(ps-[0-9a-f]+)\//.exec(bia.url())[1];
    const services = bia.getByRole('navigation', { name: 'Services' });
    await through(bia, () => services.getByRole('link', { name: 'IAM roles' }).click());
    assert.match(bia.url(), new RegExp(`/sessions/${biaId}/console/iam/roles$`));

    // Remote Sessions: o administrador derruba a sessão; o próximo clique de bia no console
    // mostra a página do Porteiro em português.
    await admin.goto(`${BASE}/pam/sessions?user=bia&status=active`);
    const rows = admin.locator('tbody tr');
    assert.equal(await rows.count(), 1);
    await through(admin, () => rows.first().getByRole('button', { name: 'Derrubar' }).click());
    assert.match(await admin.locator('.notice').textContent(), /Sessão derrubada/);
    const gone = await through(bia, () => services.getByRole('link', { name: 'S3' }).click());
    assert.equal(gone.status(), 410);
    assert.equal(await heading(bia), 'Você foi desconectado');
    assert.equal(await bia.locator('html').getAttribute('lang'), 'pt-BR');
    assert.match(await bia.locator('main').textContent(), /derrubada por admin/);
    await shot(bia, 'pt-console-disconnected');

    // O auditor reproduz e verifica a gravação do que bia fez.
    await admin.goto(`${BASE}/pam/sessions?user=bia&status=dropped`);
    await through(admin, () => admin.locator('tbody tr').first().getByRole('link', { name: 'Reproduzir' }).click());
    const pages = await admin.locator('table').textContent();
    assert.match(pages, /GET \/console\/iam\/roles -> 403/);
    await through(admin, () => admin.getByRole('link', { name: 'Verificar' }).click());
    // The recording is sealed as the session ends: give the recorder a moment.
    const sealed = Date.now() + 10000;
    while (!/^Verificada/.test(await admin.locator('#verdict').textContent())) {
      assert.ok(Date.now() < sealed, await admin.locator('#verdict').textContent());
      await sleep(500);
      await admin.reload();
    }
    await shot(admin, 'pt-verify');
  });
}
