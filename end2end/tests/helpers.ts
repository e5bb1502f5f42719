import { expect, type Page } from '@playwright/test';
import { readFileSync } from 'node:fs';
import AxeBuilder from '@axe-core/playwright';

/** Waits until the wasm has hydrated the page (the app sets this from a browser-only effect). */
export async function hydrated(page: Page) {
  // A debug build's wasm is 5 MB: give a busy machine time to load it.
  try {
    await expect(page.locator('body')).toHaveAttribute('data-hydrated', 'true', { timeout: 20_000 });
  } catch (e) {
    // Say why: a panic while hydrating shows in the page's errors and console.
    const errors = (await page.pageErrors()).map((err) => `page error: ${err.message}`);
    const logged = (await page.consoleMessages())
      .filter((m) => m.type() === 'error' || m.type() === 'warning')
      .map((m) => `console ${m.type()}: ${m.text()}`);
    throw new Error(`${page.url()} did not hydrate.\n${[...errors, ...logged].join('\n')}\n${e}`);
  }
}

// The portal accounts `make test` creates for the browser tests (scripts/test.sh).
export const STAFF_PASSWORD = 'e2e passphrase for county staff';
export const CLERK = 'clerk@la.demo.example.org';

/** Fills the portal's sign-in form (and a two-factor code when given) and sends it. */
export async function submitSignIn(page: Page, email: string, code = '') {
  await page.goto('/admin/sign-in');
  await hydrated(page);
  await page.getByLabel('Email address').fill(email);
  await page.getByLabel('Password').fill(STAFF_PASSWORD);
  if (code) await page.getByLabel(/Two-factor code/).fill(code);
  await page.getByRole('button', { name: 'Sign in' }).click();
}

/** Signs in and waits for the portal's first page. */
export async function signIn(page: Page, email: string) {
  await submitSignIn(page, email);
  await expect(page).toHaveURL(/\/admin$/);
}

/** Collects console errors and CSP violations for the page's whole life. A refused sign-in
 * answers 401 and a refused change 409, which Chromium logs as failed resources; tests that
 * expect refusals pass `allowRefusals`. */
export function watchConsole(page: Page, allowRefusals = false): string[] {
  const problems: string[] = [];
  page.on('console', (m) => {
    if (m.type() !== 'error') return;
    if (allowRefusals && /status of (401|409)/.test(m.text())) return;
    problems.push(m.text());
  });
  page.on('pageerror', (e) => problems.push(e.message));
  return problems;
}

/** Fails on any axe-core violation of WCAG 2.0/2.1 A and AA rules. */
export async function expectNoAxeViolations(page: Page) {
  const results = await new AxeBuilder({ page })
    .withTags(['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa'])
    .analyze();
  const summary = results.violations.map(
    (v) => `${v.id}: ${v.help} (${v.nodes.map((n) => n.target.join(' ')).join(', ')})`,
  );
  expect(summary).toEqual([]);
}

// The demo's showcase voters (server/src/demo/showcase.rs), loaded by `make test`.
export type Voter = [first: string, last: string, dob: string, zip: string];
export const MAILED: Voter = ['Guadalupe', 'Hernández', '1958-03-14', '90012'];
export const IN_TRANSIT: Voter = ['Minh', 'Nguyễn', '1990-07-02', '92103'];
export const DELIVERED: Voter = ['Sean', "O'Brien", '1975-11-30', '94110'];
export const UNDELIVERABLE: Voter = ['Priya', 'Patel', '1988-01-21', '94536'];
export const COUNTED: Voter = ['Aisha', 'Washington', '1983-04-25', '93721'];
export const CURABLE: Voter = ['José', 'Ramírez', '1979-06-11', '90033'];
export const LATE: Voter = ['Somchai', 'Srisai', '1961-08-08', '91601'];
export const REISSUED: Voter = ['Hannah', 'St. John', '1991-12-12', '94607'];
export const CONFIDENTIAL: Voter = ['Alex', 'Rivera', '1980-01-01', '90012'];
export const ISSUED: Voter = ['Tuấn', 'Lê', '2004-09-30', '92701'];
export const RETURNING: Voter = ['Ji-woo', 'Kim', '2001-05-09', '90020'];
export const RECEIVED: Voter = ['Maricel', 'de la Cruz', '1969-09-17', '91911'];
export const IN_REVIEW: Voter = ['Kenji', 'Tanaka', '1952-12-03', '92618'];
export const CURED: Voter = ['Lucía', 'Nguyen-Tran', '1998-10-10', '92683'];
export const IN_PERSON: Voter = ['Rohan', 'Sharma', '1985-07-19', '95014'];
// The suite's look-ups all come from 127.0.0.1; `make test` raises the per-client limit for
// its server (LOOKUP_LIMIT_PER_CLIENT) and keeps the per-identity limit, which the
// rate-limit test below meets. The per-client limit is tested over HTTP (server/tests/api).
export const NO_MATCH = 'We could not find a ballot with those details.';

/** Fills the form by field id, so it works in every language. */
export async function lookUp(page: Page, [first, last, dob, zip]: Voter) {
  await page.locator('#lookup-first_name').fill(first);
  await page.locator('#lookup-last_name').fill(last);
  await page.locator('#lookup-date_of_birth').fill(dob);
  await page.locator('#lookup-zip').fill(zip);
  await page.locator('.lookup-form button[type="submit"]').click();
}

/** A sentence from a locale file (app/locales/<lang>.json), by its dotted key. */
export function sentence(lang: string, key: string): string {
  const file = JSON.parse(readFileSync(`../app/locales/${lang}.json`, 'utf8'));
  const value = key.split('.').reduce((node, part) => node?.[part], file);
  if (typeof value !== 'string') throw new Error(`${lang}.json has no ${key}`);
  return value;
}
