import { test, expect, type Page } from '@playwright/test';
import { expectNoAxeViolations, hydrated } from './helpers';

// The demo's showcase voters (server/src/demo/showcase.rs), loaded by `make test`.
type Voter = [first: string, last: string, dob: string, zip: string];
const MAILED: Voter = ['Guadalupe', 'Hernández', '1958-03-14', '90012'];
const IN_TRANSIT: Voter = ['Minh', 'Nguyễn', '1990-07-02', '92103'];
const DELIVERED: Voter = ['Sean', "O'Brien", '1975-11-30', '94110'];
const UNDELIVERABLE: Voter = ['Priya', 'Patel', '1988-01-21', '94536'];
const COUNTED: Voter = ['Aisha', 'Washington', '1983-04-25', '93721'];
const CURABLE: Voter = ['José', 'Ramírez', '1979-06-11', '90033'];
const LATE: Voter = ['Somchai', 'Srisai', '1961-08-08', '91601'];
const REISSUED: Voter = ['Hannah', 'St. John', '1991-12-12', '94607'];
const CONFIDENTIAL: Voter = ['Alex', 'Rivera', '1980-01-01', '90012'];
const ISSUED: Voter = ['Tuấn', 'Lê', '2004-09-30', '92701'];
const RETURNING: Voter = ['Ji-woo', 'Kim', '2001-05-09', '90020'];
const RECEIVED: Voter = ['Maricel', 'de la Cruz', '1969-09-17', '91911'];
const IN_REVIEW: Voter = ['Kenji', 'Tanaka', '1952-12-03', '92618'];
const CURED: Voter = ['Lucía', 'Nguyen-Tran', '1998-10-10', '92683'];
const IN_PERSON: Voter = ['Rohan', 'Sharma', '1985-07-19', '95014'];
// The suite's look-ups all come from 127.0.0.1: keep them under the per-client limit (20 a
// minute); the limit itself is tested over HTTP in server/tests/api/lookup.rs.
const NO_MATCH = 'We could not find a ballot with those details.';

async function lookUp(page: Page, [first, last, dob, zip]: Voter) {
  await page.getByLabel('First name').fill(first);
  await page.getByLabel('Last name').fill(last);
  await page.getByLabel('Date of birth', { exact: true }).fill(dob);
  await page.getByLabel('ZIP code of your home address').fill(zip);
  await page.getByRole('button', { name: 'Find my ballot' }).click();
}

test.describe('look-up, JavaScript on', () => {
  test.beforeEach(async ({ page }) => {
    await page.goto('/ballot');
    await hydrated(page);
    await page.evaluate(() => ((window as unknown as { marker: number }).marker = 1));
  });

  test('mailed, no scan yet: answered in place, focus on the answer', async ({ page }) => {
    await lookUp(page, ['GUADALUPE', 'hernandez', '1958-03-14', '90012']);
    await expect(page.locator('.story__headline')).toHaveText('Your ballot was mailed.');
    await expect(page.locator('.story__now')).toContainText('has not scanned it yet');
    await expect(page.locator('.lookup-answer')).toBeFocused();
    await expect(page).toHaveURL(/\/ballot$/);
    expect(await page.evaluate(() => (window as unknown as { marker?: number }).marker)).toBe(1);
  });

  test('in transit shows the expected delivery date', async ({ page }) => {
    await lookUp(page, IN_TRANSIT);
    await expect(page.locator('.story__headline')).toHaveText('Your ballot is on its way to you.');
    await expect(page.locator('.story__expected')).toContainText('Expected delivery:');
  });

  test('not counted and curable: the reason, the deadline and the days left', async ({ page }) => {
    await lookUp(page, CURABLE);
    await expect(page.locator('.story__headline')).toHaveText('Your ballot was not counted.');
    await expect(page.locator('.story__reason')).toContainText('does not match the signature on file');
    await expect(page.locator('.story__cure')).toContainText(/Deadline: .* \(\d+ days? left\)/);
    await expect(page.locator('.timeline__event[data-status="received"]')).toHaveCount(1);
    await expectNoAxeViolations(page);
  });

  test('a reissued ballot shows the old one as replaced', async ({ page }) => {
    await lookUp(page, REISSUED);
    await expect(page.locator('.story__headline')).toHaveText('Your ballot is on its way to you.');
    await expect(page.locator('.story__replaced')).toContainText('Your county cancelled this ballot');
  });

  test('a failed look-up says the same whatever was wrong', async ({ page }) => {
    await lookUp(page, ['Sean', "O'Brien", '1975-11-29', '94110']);
    await expect(page.locator('.lookup-answer')).toContainText(NO_MATCH);
    const wrongDate = await page.locator('.lookup-answer').innerText();
    await lookUp(page, CONFIDENTIAL);
    await expect(page.locator('.lookup-answer')).toHaveText(wrongDate);
  });

  test('missing fields are marked next to the fields', async ({ page }) => {
    await page.getByRole('button', { name: 'Find my ballot' }).click();
    await expect(page.locator('#lookup-first_name-error')).toHaveText('Enter your first name.');
    await expect(page.getByLabel('First name')).toHaveAttribute('aria-invalid', 'true');
    await expect(page.getByLabel('First name')).toHaveAttribute('aria-describedby', 'lookup-first_name-error');
  });

  test('the form has no accessibility violations', async ({ page }) => {
    await expectNoAxeViolations(page);
  });

  for (const [voter, headline] of [
    [RECEIVED, 'Your ballot was received.'],
    [CURED, 'Your signature statement was received.'],
    [IN_PERSON, 'You voted in person.'],
  ] as [Voter, string][]) {
    test(`${voter[0]}: ${headline}`, async ({ page }) => {
      await lookUp(page, voter);
      await expect(page.locator('.story__headline')).toHaveText(headline);
      await expect(page.locator('.story__now')).not.toContainText('will be counted');
    });
  }

  test('screenshots of the form and a not-counted answer, phone and desktop', async ({ page }) => {
    for (const [name, width, height] of [['phone', 390, 844], ['desktop', 1280, 900]] as const) {
      await page.setViewportSize({ width, height });
      await page.goto('/ballot');
      await hydrated(page);
      await page.screenshot({ path: `screenshots/lookup-${name}.png`, fullPage: true });
    }
    await lookUp(page, LATE);
    await expect(page.locator('.story__headline')).toHaveText('Your ballot was not counted.');
    await page.screenshot({ path: 'screenshots/not-counted-desktop.png', fullPage: true });
  });
});

test.describe('look-up, JavaScript off', () => {
  test.use({ javaScriptEnabled: false });

  for (const [voter, headline] of [
    [DELIVERED, 'Your ballot should have been delivered.'],
    [UNDELIVERABLE, 'Your ballot could not be delivered.'],
    [COUNTED, 'Your ballot was counted.'],
    [LATE, 'Your ballot was not counted.'],
    [ISSUED, 'Your ballot is being prepared.'],
    [RETURNING, 'Your ballot is on its way to the county.'],
    [IN_REVIEW, 'Your ballot is being checked.'],
  ] as [Voter, string][]) {
    test(`${voter[0]}: ${headline}`, async ({ page }) => {
      await page.goto('/ballot');
      await lookUp(page, voter);
      await expect(page.locator('.story__headline')).toHaveText(headline);
      // The answer has no URL of its own.
      await expect(page).toHaveURL(/\/ballot$/);
    });
  }

  test('a failed look-up', async ({ page }) => {
    await page.goto('/ballot');
    await lookUp(page, CONFIDENTIAL);
    await expect(page.locator('.lookup-answer')).toContainText(NO_MATCH);
  });
});
