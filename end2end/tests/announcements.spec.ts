import { test, expect } from '@playwright/test';
import { CLERK, expectNoAxeViolations, hydrated, signIn, watchConsole } from './helpers';

// `make test` serves with ANNOUNCEMENT_APPROVAL_THRESHOLD=0 (scripts/test.sh): every
// announcement with a recipient waits for a second person.
const COUNTY_ADMIN = 'admin@la.demo.example.org';

test('an announcement is written, previewed per language, approved by a second person and queued', async ({ page }) => {
  test.setTimeout(90_000);
  const problems = watchConsole(page, true);
  await signIn(page, CLERK);
  await page.getByRole('link', { name: 'Announcements' }).click();
  await hydrated(page);
  await page.getByRole('link', { name: 'Write an announcement' }).click();
  await hydrated(page);
  await expect(page.getByRole('heading', { level: 1 })).toHaveText('Write an announcement');
  // Choosing the kind brings its standard words, placeholders and all.
  await page.getByLabel('Kind').selectOption('polling_place');
  await expect(page.getByLabel('English subject')).toHaveValue('Your polling place has changed');
  await expect(page.getByLabel('English message')).toHaveValue(/\{place\}/);
  await expectNoAxeViolations(page);

  // Saved with its placeholders empty, it cannot go.
  await page.getByRole('button', { name: 'Save and preview' }).click();
  await expect(page).toHaveURL(/\/admin\/announcements\/\d+$/);
  await expect(page.getByTestId('announcement-problems')).toContainText('{place}');
  await expect(page.getByRole('button', { name: /^Send/ })).toHaveCount(0);

  await page.getByRole('link', { name: 'Change it' }).click();
  await hydrated(page);
  await page.getByLabel('Date {date}').fill('2026-11-03');
  await page.getByLabel('Place {place}').fill('Central Library, 630 W 5th St');
  await page.getByRole('button', { name: 'Save and preview' }).click();
  await expect(page).toHaveURL(/\/admin\/announcements\/\d+$/);
  const url = page.url();
  await hydrated(page);
  await expect(page.getByTestId('announcement-problems')).toHaveCount(0);
  const total = Number(await page.getByTestId('recipients-total').textContent());
  expect(total).toBeGreaterThan(0);
  const english = page.getByTestId('sample-en');
  await expect(english).toContainText('Central Library, 630 W 5th St');
  await expect(english).toContainText('November 3, 2026');
  await expect(english).toContainText('Los Angeles County');
  await expectNoAxeViolations(page);
  await page.getByRole('button', { name: 'Send for approval' }).click();
  await expect(page.getByTestId('announcement-outcome')).toContainText('Sent for approval');
  await expect(page.getByTestId('announcement-state')).toHaveText('Awaiting approval');
  // Its author cannot approve it.
  await expect(page.getByRole('button', { name: 'Approve and queue' })).toHaveCount(0);
  await page.getByRole('button', { name: 'Sign out', exact: true }).click();
  await expect(page).toHaveURL(/\/admin\/sign-in$/);

  // A second person of the county approves: the messages go into the outbox.
  await signIn(page, COUNTY_ADMIN);
  await page.goto(url);
  await hydrated(page);
  await expect(page.getByTestId('announcement-state')).toHaveText('Awaiting approval');
  await page.getByRole('button', { name: 'Approve and queue' }).click();
  await expect(page.getByTestId('announcement-outcome')).toContainText('messages are in the outbox');
  await expect(page.getByTestId('announcement-state')).toHaveText('Queued for sending');
  await expect(page.getByTestId('announcement-progress')).toBeVisible();
  await page.getByRole('link', { name: 'Announcements' }).click();
  await expect(page.getByTestId('announcements')).toContainText('Your polling place has changed');
  await expectNoAxeViolations(page);
  expect(problems).toEqual([]);
});
