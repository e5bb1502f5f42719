import { test, expect } from '@playwright/test';
import { readFileSync } from 'node:fs';
import { CLERK, expectNoAxeViolations, hydrated, signIn } from './helpers';

const number = (text: string | null) => Number((text ?? '').replace(/[^0-9]/g, ''));

test('the dashboard shows charts with their numbers, and an export runs with a progress bar and downloads', async ({ page }) => {
  test.setTimeout(90_000);
  const problems: string[] = [];
  page.on('pageerror', (e) => problems.push(e.message));
  await signIn(page, CLERK);
  await page.getByRole('link', { name: 'Reports' }).click();
  await expect(page).toHaveURL(/\/admin\/reports$/);
  await hydrated(page);
  const dashboard = page.getByTestId('dashboard');
  await expect(dashboard.getByRole('heading', { level: 2 })).toContainText('Los Angeles County');
  // A chart drawn on the server, and its numbers as a table that adds up to the total.
  await expect(page.getByTestId('chart-status').locator('svg')).toBeVisible();
  const cells = await page.getByTestId('table-status').locator('td').allTextContents();
  const total = cells.map(number).reduce((a, b) => a + b, 0);
  expect(total).toBeGreaterThan(0);
  await expect(dashboard.locator('p').first()).toHaveText(`${total.toLocaleString('en-US')} ballots`);
  await expect(page.getByTestId('table-cure').getByRole('row', { name: /Problem found/ })).toBeVisible();
  await expectNoAxeViolations(page);

  // The ballot list, as CSV: longer than the server's at-once limit, so it runs in the background.
  const form = page.getByTestId('export-form');
  await form.getByLabel('What').selectOption('ballots');
  await form.getByLabel('Format').selectOption('csv');
  await form.getByRole('button', { name: 'Export' }).click();
  await expect(page).toHaveURL(/\/admin\/reports\/exports$/);
  await hydrated(page);
  const row = page.getByTestId('exports').locator('tbody tr').first();
  const bar = row.getByTestId('export-progress');
  await expect(bar).toBeVisible();
  await expect(bar).toHaveAccessibleName('Ballot status list');
  // The page follows the run until the bar is full and the file is offered. (Other tests may
  // add ballots meanwhile: at least the dashboard's number.)
  await expect(row.getByTestId('export-done')).toHaveText(/^Done: [\d,]+ rows$/, { timeout: 30_000 });
  const rows = number(await row.getByTestId('export-done').textContent());
  expect(rows).toBeGreaterThanOrEqual(total);
  await expect(bar).toHaveAttribute('value', String(rows));
  await expect(bar).toHaveAttribute('max', String(rows));
  await expectNoAxeViolations(page);

  const downloaded = page.waitForEvent('download');
  await row.getByRole('link', { name: /Download ballots-06037-/ }).click();
  const file = await downloaded;
  expect(file.suggestedFilename()).toMatch(/^ballots-06037-\d{4}-\d{2}-\d{2}\.csv$/);
  const text = readFileSync((await file.path()) ?? '', 'utf8');
  expect(text.startsWith('\uFEFFCounty,Election,Voter ID,Name')).toBe(true);
  const lines = text.trimEnd().split('\r\n');
  expect(lines.length - 1).toBe(rows);
  expect(problems).toEqual([]);
});
