import { test, expect } from '@playwright/test';
import { expectNoAxeViolations, hydrated } from './helpers';

test.describe('home page, JavaScript on', () => {
  test('renders the layout and every status sentence', async ({ page }) => {
    await page.goto('/');
    await expect(page.getByRole('heading', { level: 1 })).toHaveText('Track your vote-by-mail ballot');
    await expect(page.getByRole('banner').getByRole('link', { name: /Ballot Tracker/ })).toBeVisible();
    await expect(page.locator('.status-guide__item')).toHaveCount(13);
    await expect(page.locator('[data-status="received"] dd')).toContainText('It has not been counted yet');
    await expect(page.getByRole('contentinfo')).toContainText('California Secretary of State');
    await expect(page.getByRole('contentinfo').getByRole('link', { name: 'Accessibility' })).toBeVisible();
  });

  test('the language menu changes the page language without reloading once hydrated', async ({ page }) => {
    await page.goto('/');
    await hydrated(page);
    await page.evaluate(() => ((window as unknown as { marker: number }).marker = 42));
    await page.getByLabel('Language').selectOption('es');
    await page.getByRole('button', { name: 'Change' }).click();
    await expect(page.locator('html')).toHaveAttribute('lang', 'es');
    // Still the same document: the form was handled by the hydrated app, not a reload.
    expect(await page.evaluate(() => (window as unknown as { marker?: number }).marker)).toBe(42);
    // And it is remembered.
    await page.reload();
    await expect(page.locator('html')).toHaveAttribute('lang', 'es');
    await expect(page.locator('#language-select')).toHaveValue('es');
  });

  test('the county finder shows a county office without reloading', async ({ page }) => {
    await page.goto('/');
    await hydrated(page);
    await page.evaluate(() => ((window as unknown as { marker: number }).marker = 7));
    await page.getByLabel('County', { exact: true }).selectOption({ label: 'Los Angeles' });
    await page.getByRole('button', { name: 'Show contact' }).click();
    await expect(page).toHaveURL(/county=06037/);
    const block = page.locator('.contact-block');
    await expect(block.getByRole('heading')).toHaveText('Los Angeles County Elections Office');
    await expect(block).toContainText('(555) 010-');
    expect(await page.evaluate(() => (window as unknown as { marker?: number }).marker)).toBe(7);
  });

  test('has no accessibility violations', async ({ page }) => {
    for (const path of ['/', '/?county=06075', '/accessibility', '/privacy']) {
      await page.goto(path);
      await hydrated(page);
      await expectNoAxeViolations(page);
    }
  });

  test('the browser console stays clean', async ({ page }) => {
    const problems: string[] = [];
    page.on('console', (m) => m.type() === 'error' && problems.push(m.text()));
    page.on('pageerror', (e) => problems.push(e.message));
    await page.goto('/');
    await hydrated(page);
    expect(problems).toEqual([]);
  });
});

test.describe('home page, JavaScript off', () => {
  test.use({ javaScriptEnabled: false });

  test('is readable, with the database-backed parts in place', async ({ page }) => {
    await page.goto('/');
    await expect(page.getByRole('heading', { level: 1 })).toHaveText('Track your vote-by-mail ballot');
    await expect(page.locator('.status-guide__item')).toHaveCount(13);
    await expect(page.getByRole('contentinfo')).toContainText('(800) 345-8683');
    await expect(page.getByLabel('County', { exact: true }).locator('option')).toHaveCount(59);
  });

  test('the county finder works as a plain form', async ({ page }) => {
    await page.goto('/');
    await page.getByLabel('County', { exact: true }).selectOption({ label: 'San Francisco' });
    await page.getByRole('button', { name: 'Show contact' }).click();
    await expect(page).toHaveURL(/county=06075/);
    await expect(page.locator('.contact-block h3')).toHaveText('San Francisco County Elections Office');
  });

  test('the language menu works as a plain form post', async ({ page }) => {
    await page.goto('/privacy');
    await page.getByLabel('Language').selectOption('km');
    await page.getByRole('button', { name: 'Change' }).click();
    // server_fn redirects back to the referring page (with an empty query when all went well).
    await expect(page).toHaveURL(/\/privacy\??$/);
    await expect(page.locator('html')).toHaveAttribute('lang', 'km');
  });
});

test.describe('server', () => {
  test('unknown pages answer 404 in the site layout', async ({ page }) => {
    const res = await page.goto('/no-such-page');
    expect(res?.status()).toBe(404);
    await expect(page.getByRole('heading', { level: 1 })).toHaveText('Page not found');
  });

  test('health and readiness', async ({ request }) => {
    expect(await (await request.get('/healthz')).text()).toBe('ok');
    const ready = await request.get('/readyz');
    expect(ready.status()).toBe(200);
    expect(await ready.text()).toBe('ready');
  });

  test('security headers and request ids', async ({ request }) => {
    const res = await request.get('/');
    expect(res.headers()['x-content-type-options']).toBe('nosniff');
    expect(res.headers()['x-frame-options']).toBe('DENY');
    expect(res.headers()['x-request-id']).toMatch(/^[0-9a-f-]{36}$/);
  });
});
