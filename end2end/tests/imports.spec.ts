import { test, expect, type Page } from '@playwright/test';
import { CLERK, expectNoAxeViolations, hydrated, signIn } from './helpers';

function voterMaster(rows: number): string {
  const lines = [
    'county_fips,voter_id,first_name,middle_name,last_name,suffix,date_of_birth,residential_zip,precinct,language,confidential,email,phone',
  ];
  for (let i = 0; i < rows; i++) {
    lines.push(`06037,E2E-IMP-${i},Ana${i},,Quintero,,1980-02-${String((i % 28) + 1).padStart(2, '0')},90012,P-1,es,N,,`);
  }
  return lines.join('\r\n') + '\r\n';
}

async function upload(page: Page, kind: string, name: string, text: string) {
  await page.goto('/admin/imports');
  await hydrated(page);
  await page.getByLabel('Kind of file').selectOption(kind);
  const election = page.getByLabel(/^Election/);
  const demo = await election.locator('option', { hasText: 'Statewide General Election' }).first().getAttribute('value');
  await election.selectOption(demo ?? '');
  await page.getByLabel('File (CSV)').setInputFiles({ name, mimeType: 'text/csv', buffer: Buffer.from(text) });
  await page.getByRole('button', { name: 'Upload and check' }).click();
}

test('a county file is uploaded with a progress bar, checked, looked at and applied', async ({ page }) => {
  test.setTimeout(120_000);
  const problems: string[] = [];
  page.on('pageerror', (e) => problems.push(e.message));
  await signIn(page, CLERK);
  await page.getByRole('link', { name: 'County files' }).click();
  await hydrated(page);
  await expectNoAxeViolations(page);

  // A voter master big enough that the upload takes a moment.
  await upload(page, 'vot', 'voters.csv', voterMaster(20_000));
  await expect(page.getByTestId('upload-progress')).toBeVisible();
  await expect(page).toHaveURL(/\/admin\/imports\/\d+$/, { timeout: 60_000 });
  await hydrated(page);
  await expect(page.getByTestId('import-summary')).toContainText('20,000 voters added');
  await expect(page.getByTestId('import-state')).toHaveText('checked, not applied');
  await page.getByRole('button', { name: 'Apply the file' }).click();
  await expect(page.getByTestId('import-state')).toHaveText('applied', { timeout: 60_000 });

  // A status file with one row of another election: shown, rejected, and confirmed to skip.
  await page.goto('/admin/imports');
  await hydrated(page);
  const label = await page.getByLabel(/^Election/).locator('option', { hasText: 'Statewide General Election' }).first().textContent();
  const day = /\((\d{4}-\d{2}-\d{2})\)/.exec(label ?? '')?.[1] ?? '';
  expect(day).not.toBe('');
  const yesterday = new Date(Date.now() - 86_400_000).toISOString().slice(0, 10);
  const elg = [
    'county_fips,election_date,voter_id,ballot_id,status_code,status_date,reason_code,outbound_imb,inbound_imb',
    `06037,${day},E2E-IMP-1,E2E-B-1,MAILED,${yesterday},,,`,
    `06037,2026-06-02,E2E-IMP-2,E2E-B-2,MAILED,${yesterday},,,`,
  ].join('\n');
  await upload(page, 'elg', 'status.csv', elg);
  await expect(page).toHaveURL(/\/admin\/imports\/\d+$/, { timeout: 60_000 });
  await hydrated(page);
  await expect(page.getByTestId('import-summary')).toContainText('1 ballots issued');
  await expect(page.getByTestId('import-summary')).toContainText('1 ballot → mailed');
  await expect(page.getByTestId('import-guards')).toContainText('Rows for another election');
  await expect(page.getByTestId('rejections')).toContainText('2026-06-02');
  await expectNoAxeViolations(page);

  const downloaded = page.waitForEvent('download');
  await page.getByRole('link', { name: /Download the error report/ }).click();
  const report = await downloaded;
  const text = require('node:fs').readFileSync(await report.path(), 'utf8') as string;
  expect(text).toContain('row,field,value,reason');
  expect(text).toContain('this import is for');

  // Not confirmed: refused, nothing applied.
  await page.getByRole('button', { name: 'Apply the file' }).click();
  await expect(page.getByTestId('apply-error')).toContainText('confirm rows for another election');
  await expect(page.getByTestId('import-state')).toHaveText('checked, not applied');
  await page.getByLabel(/I have looked: rows for another election/).check();
  await page.getByLabel(/Apply without the 1 rejected rows/).check();
  await page.getByRole('button', { name: 'Apply the file' }).click();
  await expect(page.getByTestId('import-state')).toHaveText('applied', { timeout: 60_000 });
  expect(problems).toEqual([]);
});

test("a county administrator gives an ELG code the county's own meaning, and takes it back", async ({ page }) => {
  await signIn(page, 'admin@la.demo.example.org');
  await page.getByRole('link', { name: 'Import codes' }).click();
  await hydrated(page);
  await expect(page.getByRole('heading', { level: 1 })).toHaveText('Import codes');
  await expect(page.getByTestId('code-maps')).toContainText('default');
  await expectNoAxeViolations(page);
  const code = `E2E${Date.now() % 100_000}`;
  const row = page.locator(`tr[data-code="elg:${code}"]`);
  await page.getByLabel('File', { exact: true }).selectOption('elg');
  await page.getByLabel('Code', { exact: true }).fill(code);
  await page.getByLabel('Means').selectOption('not_counted');
  await page.getByLabel('Reason (not counted only)').selectOption('signature_missing');
  await page.getByRole('button', { name: 'Save the code' }).click();
  await expect(page.getByTestId('code-saved')).toBeVisible();
  await expect(row).toContainText('not counted');
  await expect(row).toContainText('signature missing');
  await expect(row).toContainText('the county');
  // Without a meaning the county's row goes; the code no longer means anything.
  await page.getByLabel('Means').selectOption('');
  await page.getByLabel('Reason (not counted only)').selectOption('');
  await page.getByRole('button', { name: 'Save the code' }).click();
  await expect(row).toHaveCount(0);
});

test('a county administrator makes an API token, sees it once, and revokes it', async ({ page }) => {
  await signIn(page, 'admin@la.demo.example.org');
  await page.getByRole('link', { name: 'API tokens' }).click();
  await hydrated(page);
  await expect(page.getByRole('heading', { level: 1 })).toHaveText('API tokens');
  const name = `E2E mail line ${Date.now() % 100_000}`;
  await page.getByLabel('Name (the system that will use it)').fill(name);
  // Nothing chosen: refused with the reason.
  await page.getByRole('button', { name: 'Make the token' }).click();
  await expect(page.getByTestId('token-error')).toContainText('Choose at least one thing');
  await page.getByLabel('Push postal scans (PKG)').check();
  await page.getByRole('button', { name: 'Make the token' }).click();
  await expect(page.getByTestId('token-made')).toContainText('it is not shown again');
  const token = await page.getByTestId('token-secret').inputValue();
  expect(token).toMatch(/^bt_[0-9a-f]{64}$/);
  const row = page.locator('tr', { hasText: name });
  await expect(row).toContainText('Push postal scans (PKG)');
  await expect(row).toContainText('never');
  await expect(row).toContainText('Live');
  await expect(page.getByTestId('api-tokens')).not.toContainText(token);
  await expectNoAxeViolations(page);

  // The token works, for what it was given only: statuses are refused with 403, not 401.
  const push = () =>
    page.request.post('/api/v1/ballot-statuses', {
      headers: { Authorization: `Bearer ${token}` },
      data: { election_date: '2026-11-03', changes: [] },
    });
  const scoped = await push();
  expect(scoped.status()).toBe(403);
  expect((await scoped.json()).error).toContain('statuses:write');
  await page.reload();
  await hydrated(page);
  await expect(row).not.toContainText('never');

  await row.getByRole('button', { name: `Revoke ${name}` }).click();
  await expect(page.getByTestId('token-revoked')).toContainText('refused from now on');
  await expect(row).toContainText('Revoked');
  await expect(row.getByRole('button')).toHaveCount(0);
  expect((await push()).status()).toBe(401);
});
