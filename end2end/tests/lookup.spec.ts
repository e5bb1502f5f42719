import { test, expect } from '@playwright/test';
import {
  CONFIDENTIAL, COUNTED, CURABLE, CURED, DELIVERED, IN_PERSON, IN_REVIEW, IN_TRANSIT, ISSUED, LATE,
  MAILED, NO_MATCH, RECEIVED, REISSUED, RETURNING, UNDELIVERABLE, type Voter, expectNoAxeViolations,
  hydrated, lookUp, sentence,
} from './helpers';

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
    await page.setViewportSize({ width: 390, height: 844 });
    await page.screenshot({ path: 'screenshots/not-counted-phone.png', fullPage: true });
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

// Every status the issue names, each with JavaScript on and off, checked against the sentence
// in the locale file.
const EVERY_STATUS: [string, Voter, string][] = [
  ['issued', ISSUED, 'status.issued.headline'],
  ['mailed, no scan yet', MAILED, 'status.mailed.headline'],
  ['in transit', IN_TRANSIT, 'status.in_transit.headline'],
  ['delivered', DELIVERED, 'status.delivered.headline'],
  ['undeliverable', UNDELIVERABLE, 'status.undeliverable.headline'],
  ['on its way to the county', RETURNING, 'status.return_in_transit.headline'],
  ['received', RECEIVED, 'status.received.headline'],
  ['in review', IN_REVIEW, 'status.in_review.headline'],
  ['counted', COUNTED, 'status.counted.headline'],
  ['not counted, curable', CURABLE, 'status.not_counted.headline'],
  ['not counted, not curable', LATE, 'status.not_counted.headline'],
  ['cured', CURED, 'status.cured.headline'],
  ['voted in person', IN_PERSON, 'status.voted_in_person.headline'],
  ['reissued', REISSUED, 'status.in_transit.headline'],
];

for (const javaScriptEnabled of [true, false]) {
  test.describe(`every status, JavaScript ${javaScriptEnabled ? 'on' : 'off'}`, () => {
    test.use({ javaScriptEnabled });
    for (const [name, voter, key] of EVERY_STATUS) {
      test(name, async ({ page }) => {
        await page.goto('/ballot');
        if (javaScriptEnabled) await hydrated(page);
        await lookUp(page, voter);
        await expect(page.locator('.story__headline')).toHaveText(sentence('en', key));
        if (name === 'reissued') {
          await expect(page.locator('.story__replaced')).toContainText(sentence('en', 'status.replaced.meaning'));
        }
        if (name === 'not counted, curable') {
          await expect(page.locator('.story__cure')).toContainText(sentence('en', 'reason.signature_mismatch.next'));
        }
        if (name === 'not counted, not curable') {
          await expect(page.locator('.story__reason')).toContainText(sentence('en', 'reason.received_late.headline'));
          await expect(page.locator('.story__cure')).toHaveCount(0);
        }
      });
    }
  });
}
