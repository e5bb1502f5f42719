import { test, expect, type Page } from '@playwright/test';
import { IN_PERSON, IN_REVIEW, expectNoAxeViolations, hydrated, lookUp, sentence } from './helpers';

// `make test` runs stand-in providers (`ballot-tracker standins`) and points the server's
// delivery worker at them; this is where they list what they were sent.
const STANDIN = process.env.STANDIN_URL ?? 'http://127.0.0.1:3101';

type Sent = { kind: string; to: string; body: string };

async function textsTo(page: Page, to: string): Promise<Sent[]> {
  const response = await page.request.get(`${STANDIN}/received`);
  const all = (await response.json()) as Sent[];
  return all.filter((r) => r.to === to);
}

test('sign up by text after a look-up: consent, the code, then the status once', async ({ page }) => {
  test.setTimeout(60_000);
  const to = '+12135550142';
  await page.goto('/ballot');
  await hydrated(page);
  await lookUp(page, IN_REVIEW);
  await expect(page.locator('.story__notify h3')).toHaveText('Get notified about your ballot');
  await page.locator('.story__notify').getByRole('button', { name: 'Sign up' }).click();

  await expect(page.getByRole('heading', { level: 1 })).toHaveText('Get notified about your ballot');
  await expectNoAxeViolations(page);
  // Nothing chosen but the channel: both problems are named, in place.
  await page.getByLabel('Text message (SMS)').check();
  await page.getByRole('button', { name: 'Sign up' }).click();
  await expect(page.getByRole('alert')).toContainText('Enter a phone number like (213) 555-0100.');
  await expect(page.getByRole('alert')).toContainText('Check the box to agree to receive messages.');

  await page.getByLabel('Text message (SMS)').check();
  await page.getByLabel('Email address or phone number').fill('(213) 555-0142');
  await page.getByLabel('Language of the messages').selectOption('es');
  // Texts only within the chosen hours: choose hours open now (California time), whenever the
  // test runs.
  const hour = Number(new Intl.DateTimeFormat('en-US', { timeZone: 'America/Los_Angeles', hour: '2-digit', hourCycle: 'h23' }).format(new Date()));
  const at = (h: number) => `${String((h + 24) % 24).padStart(2, '0')}:00`;
  await page.locator('#signup-from').selectOption(at(hour - 1));
  await page.locator('#signup-to').selectOption(at(hour + 3));
  await expect(page.locator('#signup-consent-text')).toContainText('Msg & data rates may apply');
  await page.getByLabel('I agree to receive these messages.').check();
  await page.getByRole('button', { name: 'Sign up' }).click();
  await expect(page.getByRole('status')).toContainText('•••0142');

  // The code arrives by text, in Spanish.
  let code = '';
  await expect
    .poll(async () => {
      const texts = await textsTo(page, to);
      code = texts[0]?.body.match(/\d{6}/)?.[0] ?? '';
      return code;
    }, { timeout: 15_000 })
    .toMatch(/^\d{6}$/);
  expect((await textsTo(page, to))[0].body).toContain('Código de Seguimiento de Boletas');
  await page.getByLabel('Code', { exact: true }).fill(code);
  await page.getByRole('button', { name: 'Confirm' }).click();
  await expect(page.getByRole('status')).toContainText('You are signed up.');
  await expect(page.locator('.subscriptions')).toContainText('•••0142');
  await expectNoAxeViolations(page);

  // Then the ballot's current status, once, in the status page's Spanish words.
  const inReview = sentence('es', 'status.in_review.headline');
  await expect
    .poll(async () => (await textsTo(page, to)).map((t) => t.body.includes(inReview)).filter(Boolean).length, {
      timeout: 15_000,
    })
    .toBe(1);

  // Stopped from the list.
  const mine = page.locator('.subscriptions li', { hasText: '•••0142' });
  await mine.getByRole('button', { name: 'Stop' }).click();
  await expect(page.getByRole('status')).toContainText('No more messages will go to •••0142');
  await expect(mine).toHaveCount(0);
});

test.describe('JavaScript off', () => {
  test.use({ javaScriptEnabled: false });

  test('the sign-up form is a plain form after a plain look-up', async ({ page }) => {
    await page.goto('/ballot');
    await lookUp(page, IN_PERSON);
    await page.locator('.story__notify').getByRole('button', { name: 'Sign up' }).click();
    await page.getByLabel('Email', { exact: true }).check();
    await page.getByLabel('Email address or phone number').fill('rohan@example.org');
    await page.getByLabel('I agree to receive these messages.').check();
    await page.getByRole('button', { name: 'Sign up' }).click();
    await expect(page.getByRole('status')).toContainText('We sent a link to r•••@example.org.');

    // The status page itself lists the sign-up, and stops it.
    await page.goto('/ballot');
    await lookUp(page, IN_PERSON);
    const mine = page.locator('.story__notify .subscriptions li', { hasText: 'r•••@example.org' });
    await expect(mine).toContainText('Email: r•••@example.org (waiting for confirmation)');
    await mine.getByRole('button', { name: 'Stop' }).click();
    await expect(page.getByRole('status')).toContainText('No more messages will go to r•••@example.org');
  });
});
