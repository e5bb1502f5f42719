import { test, expect } from '@playwright/test';
import { createHmac } from 'node:crypto';
import { expectNoAxeViolations, hydrated, submitSignIn, watchConsole } from './helpers';

// Accounts `make test` creates for the browser tests (scripts/test.sh).
const WALKER = 'walker@la.demo.example.org';
const CLERK = 'clerk@la.demo.example.org';
const COUNTY_ADMIN = 'admin@la.demo.example.org';

/** RFC 6238 (SHA-1, six digits, 30 s), as an authenticator app computes it. */
function totp(base32: string, unixSecs: number): string {
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';
  let bits = '';
  for (const c of base32.replace(/=+$/, '').toUpperCase()) {
    bits += alphabet.indexOf(c).toString(2).padStart(5, '0');
  }
  const bytes: number[] = [];
  for (let i = 0; i + 8 <= bits.length; i += 8) bytes.push(parseInt(bits.slice(i, i + 8), 2));
  const counter = Buffer.alloc(8);
  counter.writeBigUInt64BE(BigInt(Math.floor(unixSecs / 30)));
  const mac = createHmac('sha1', Buffer.from(bytes)).update(counter).digest();
  const offset = mac[mac.length - 1] & 0xf;
  return ((mac.readUInt32BE(offset) & 0x7fffffff) % 1_000_000).toString().padStart(6, '0');
}

const signIn = submitSignIn;

test('sign-in with two-factor, a search, a status change whose notice is in the outbox, sign-out', async ({ page }) => {
  test.setTimeout(90_000);
  const problems = watchConsole(page, true);

  await signIn(page, WALKER);
  await expect(page).toHaveURL(/\/admin$/);
  await expect(page.getByTestId('staff-name')).toHaveText('LA Walker');

  // Two-factor set-up: the key, a code from it, then the recovery codes once.
  await page.getByRole('link', { name: 'Two-factor sign-in' }).click();
  await hydrated(page);
  await page.getByRole('button', { name: 'Set up two-factor sign-in' }).click();
  const secret = (await page.getByTestId('totp-secret').textContent()) ?? '';
  expect(secret).toMatch(/^[A-Z2-7]{32}$/);
  const now = Date.now() / 1000;
  await page.getByLabel('Code from the app').fill(totp(secret, now));
  await page.getByRole('button', { name: 'Turn on' }).click();
  await expect(page.getByTestId('recovery-codes').locator('li')).toHaveCount(10);
  await expectNoAxeViolations(page);

  // Signed out, the password alone no longer signs in; the next code does.
  await page.getByRole('button', { name: 'Sign out', exact: true }).click();
  await expect(page).toHaveURL(/\/admin\/sign-in$/);
  await signIn(page, WALKER);
  await expect(page.getByTestId('signin-error')).toContainText('six-digit code');
  await signIn(page, WALKER, totp(secret, now + 30));
  await expect(page).toHaveURL(/\/admin$/);

  // Search, open the ballot, change its status.
  await hydrated(page);
  // Every received ballot in the county: the first is the voter `make test` subscribed
  // (scripts/test.sh), so the change below queues a notice. (The showcase voters are left
  // alone: the voters' own tests read them.)
  await page.getByLabel('Status', { exact: true }).selectOption('received');
  await page.getByRole('button', { name: 'Search' }).click();
  const rows = page.locator('table.records tbody tr');
  await expect(rows.first()).toBeVisible();
  for (const county of await rows.locator('td:nth-child(3)').allTextContents()) {
    expect(county).toBe('Los Angeles');
  }
  await expect(rows.first()).toContainText('Your ballot was received.');
  await expectNoAxeViolations(page);
  await rows.first().getByRole('link').click();
  await expect(page.getByTestId('current-status')).toHaveText('Your ballot was received.');
  await hydrated(page);
  await expectNoAxeViolations(page);

  // A change without a note is refused with the reason; with one it is recorded, and its
  // notice is queued for the voter's subscription.
  await page.getByLabel('New status').selectOption('counted');
  await page.getByRole('button', { name: 'Record the change' }).click();
  await expect(page.getByTestId('change-error')).toContainText('Write a note');
  await page.getByLabel('Note (required)').fill('Signature checked; counted in batch 12.');
  await page.getByRole('button', { name: 'Record the change' }).click();
  await expect(page.getByTestId('change-ok')).toBeVisible();
  await expect(page.getByTestId('current-status')).not.toHaveText('Your ballot was received.');
  await expect(page.getByTestId('notifications')).toContainText('counted');
  // The server's delivery worker may have sent it already.
  await expect(page.getByTestId('notifications')).toContainText(/queued|sending|sent|delivered/);
  await expect(page.locator('table.records').first()).toContainText('LA Walker');

  await page.getByRole('button', { name: 'Sign out', exact: true }).click();
  await expect(page).toHaveURL(/\/admin\/sign-in$/);
  await page.goto('/admin');
  await expect(page).toHaveURL(/\/admin\/sign-in$/);
  expect(problems).toEqual([]);
});

test('a wrong password is refused in place; the portal is closed to visitors', async ({ page }) => {
  const problems = watchConsole(page, true);
  await page.goto('/admin');
  await expect(page).toHaveURL(/\/admin\/sign-in$/);
  await hydrated(page);
  await expectNoAxeViolations(page);
  await page.getByLabel('Email address').fill(CLERK);
  await page.getByLabel('Password').fill('not the password');
  await page.getByRole('button', { name: 'Sign in' }).click();
  await expect(page.getByTestId('signin-error')).toHaveText(
    'That email address, password or code is not right.',
  );
  expect(problems).toEqual([]);
});

test('the session cookie is host-only, HttpOnly and SameSite=Strict', async ({ page, context }) => {
  await signIn(page, CLERK);
  await expect(page).toHaveURL(/\/admin$/);
  const cookie = (await context.cookies()).find((c) => c.name === '__Host-bt_session');
  expect(cookie).toBeDefined();
  expect(cookie?.httpOnly).toBe(true);
  expect(cookie?.sameSite).toBe('Strict');
  expect(cookie?.secure).toBe(true);
  expect(await page.evaluate(() => document.cookie)).not.toContain('bt_session');
});

test('a county administrator changes the office hours voters see', async ({ page }) => {
  const problems = watchConsole(page, true);
  await signIn(page, COUNTY_ADMIN);
  await expect(page).toHaveURL(/\/admin$/);
  await page.getByRole('link', { name: 'County settings' }).click();
  await hydrated(page);
  await expect(page.getByRole('heading', { name: 'Los Angeles County' })).toBeVisible();
  await expectNoAxeViolations(page);
  await page.getByLabel('Website (https://)').fill('http://not-secure.example.org');
  await page.getByRole('button', { name: 'Save' }).click();
  await expect(page.getByTestId('settings-error')).toContainText('https://');
  await page.getByLabel('Website (https://)').fill('https://lavote.example.org');
  await page.getByLabel('Office hours').fill('Mon–Fri 8 a.m.–5 p.m.; Election Day 7 a.m.–8 p.m.');
  await page.getByRole('button', { name: 'Save' }).click();
  await expect(page.getByTestId('settings-saved')).toBeVisible();
  // The voters' county finder shows the new hours.
  await page.goto('/?county=06037');
  await expect(page.locator('.contact-block')).toContainText('Election Day 7 a.m.–8 p.m.');
  expect(problems).toEqual([]);
});

test('a county administrator creates an election; empty deadlines take the usual values', async ({ page }) => {
  const problems = watchConsole(page, true);
  await signIn(page, COUNTY_ADMIN);
  await expect(page).toHaveURL(/\/admin$/);
  await page.getByRole('link', { name: 'Elections', exact: true }).click();
  await hydrated(page);
  await expect(page.getByTestId('elections')).toContainText('Statewide');
  await expectNoAxeViolations(page);
  await page.getByLabel('Name', { exact: true }).fill('Measure B special election');
  await page.getByLabel('Election Day').fill('2027-03-02');
  await page.getByRole('button', { name: 'Save the election' }).click();
  await expect(page.getByTestId('election-saved')).toBeVisible();
  const row = page.getByTestId('elections').locator('tr', { hasText: 'Measure B special election' });
  await expect(row).toContainText('Los Angeles');
  await expect(row).toContainText('2027-02-01');
  await expect(row).toContainText('2027-03-30 17:00');
  expect(problems).toEqual([]);
});

test('an auditor reads the county audit log and no voter records', async ({ page }) => {
  const problems = watchConsole(page);
  await signIn(page, 'auditor@la.demo.example.org');
  await expect(page).toHaveURL(/\/admin$/);
  await expect(page.getByRole('main')).toContainText('Auditors read reports');
  await page.getByRole('link', { name: 'Audit log', exact: true }).click();
  await hydrated(page);
  const log = page.getByTestId('audit');
  await expect(log).toContainText('admin_user.signed_in');
  for (const county of await log.locator('tbody td:nth-child(2)').allTextContents()) {
    expect(county).toBe('Los Angeles');
  }
  await expectNoAxeViolations(page);
  expect(problems).toEqual([]);
});

test("the message log shows the county's messages with their states, masked for staff", async ({ page }) => {
  const problems = watchConsole(page, true);
  await signIn(page, CLERK);
  await expect(page).toHaveURL(/\/admin$/);
  await page.getByRole('link', { name: 'Message log', exact: true }).click();
  await hydrated(page);
  const counts = page.getByTestId('message-counts');
  await expect(counts).toContainText('dead');
  const log = page.getByTestId('messages');
  await expect(log.locator('tbody tr').first()).toBeVisible();
  for (const county of await log.locator('tbody td:nth-child(2)').allTextContents()) {
    expect(county).toBe('Los Angeles');
  }
  // County staff see addresses masked.
  for (const to of await log.locator('tbody td:nth-child(4)').allTextContents()) {
    expect(to).toContain('•');
  }
  await page.getByLabel('Channel').selectOption('email');
  await expect(log.locator('tbody td:nth-child(3)').first()).toHaveText('email');
  await expectNoAxeViolations(page);
  expect(problems).toEqual([]);
});
