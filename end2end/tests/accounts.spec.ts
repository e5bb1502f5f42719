import { test, expect, type Page } from '@playwright/test';
import { STAFF_PASSWORD, expectNoAxeViolations, hydrated, signIn, submitSignIn, watchConsole } from './helpers';

const STANDIN = process.env.STANDIN_URL ?? 'http://127.0.0.1:3101';
const COUNTY_ADMIN = 'admin@la.demo.example.org';

type Email = { to: string[]; data: string };

/** The path of the set-password link in the latest email to `to`. */
async function linkTo(page: Page, to: string): Promise<string> {
  let path = '';
  await expect
    .poll(async () => {
      const emails = (await (await page.request.get(`${STANDIN}/emails`)).json()) as Email[];
      const mine = emails.filter((e) => e.to.includes(to));
      path = mine.at(-1)?.data.replace(/=\r\n/g, '').match(/\/admin\/password\/[A-Za-z0-9_-]+/)?.[0] ?? '';
      return path;
    }, { timeout: 15_000 })
    .not.toBe('');
  return path;
}

test('an administrator invites someone, who chooses a password from the emailed link and signs in', async ({ page }) => {
  test.setTimeout(60_000);
  const problems = watchConsole(page, true);
  const invited = `invited.${Date.now()}@la.demo.example.org`;
  await signIn(page, COUNTY_ADMIN);
  await page.getByRole('link', { name: 'Accounts' }).click();
  await hydrated(page);
  await expect(page.getByTestId('accounts')).toContainText('clerk@la.demo.example.org');
  await expectNoAxeViolations(page);
  await page.getByLabel('Email address').fill(invited);
  await page.getByLabel('Name').fill('Invited Clerk');
  await page.getByLabel('Role').selectOption('county_staff');
  await page.getByRole('button', { name: 'Send the invitation' }).click();
  await expect(page.getByTestId('accounts-outcome')).toContainText(`Invitation sent to ${invited}`);
  await expect(page.getByTestId('accounts')).toContainText('Invited');
  await page.getByRole('button', { name: 'Sign out', exact: true }).click();

  await page.goto(await linkTo(page, invited));
  await hydrated(page);
  await expect(page.getByText(`Welcome, Invited Clerk. Choose the password for ${invited}.`)).toBeVisible();
  await expectNoAxeViolations(page);
  await page.getByLabel('New password').fill('qwerty123456');
  await page.getByLabel('The same password again').fill('qwerty123456');
  await page.getByRole('button', { name: 'Set the password' }).click();
  await expect(page.getByTestId('password-error')).toContainText('most common');
  await page.getByLabel('New password').fill(STAFF_PASSWORD);
  await page.getByLabel('The same password again').fill(STAFF_PASSWORD);
  await page.getByRole('button', { name: 'Set the password' }).click();
  await expect(page.getByTestId('password-set')).toBeVisible();
  await submitSignIn(page, invited);
  await expect(page).toHaveURL(/\/admin$/);
  await expect(page.getByTestId('staff-name')).toHaveText('Invited Clerk');
  expect(problems).toEqual([]);
});

test('a forgotten password: the same answer for every address, and a spent link says so', async ({ page }) => {
  await page.goto('/admin/sign-in');
  await hydrated(page);
  await page.getByRole('link', { name: 'Forgot your password?' }).click();
  await hydrated(page);
  await expectNoAxeViolations(page);
  await page.getByLabel('Email address').fill('nobody@example.org');
  await page.getByRole('button', { name: 'Send me a link' }).click();
  await expect(page.getByTestId('forgot-outcome')).toContainText('If that address belongs to an account');
  await page.goto('/admin/password/not-a-real-link');
  await expect(page.getByTestId('link-invalid')).toContainText('expired or was used already');
  await expectNoAxeViolations(page);
});
