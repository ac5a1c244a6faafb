import { existsSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { jwtVerify, SignJWT } from 'jose';
import { type Browser, chromium, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { httpRoutes } from '../../../functions/routes.js';
import type { DashboardConfig } from '../../../infra/local/dashboard-server.js';
import type { LocalPlatform } from '../../../infra/local/platform.js';
import { DEVELOPMENT_JWT_SECRET } from '../../../shared/config.js';
import { OrderResponse } from '../../../shared/contracts/order-api.js';
import { SubscriptionListResponse } from '../../../shared/contracts/subscription.js';
import type { Instrument } from '../../../shared/ports/market-data.js';
import { waitFor } from '../../support/wait.js';
import { API_KEY, restClient, startPlatform } from '../rest/rest-support.js';

/*
 * The live dashboard in a real browser: headless Chromium (Debian's package) driven by
 * playwright-core, against the local platform started in process with the mock market streaming.
 * The page uses the REST and WebSocket APIs as any outside client does.
 */

const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const SCREENSHOT = 'test-results/dashboard.png';
/** Whether the order pipeline's REST routes are on this platform (they came with the orders work). */
const ORDERS_ROUTE = httpRoutes.some((r) => r.method === 'POST' && r.path === '/orders');
/** Another caller: a trader's API key, who must not see the page's orders. */
const TRADER_KEY = 'dashboard-trader-key';

let platform: LocalPlatform;
let browser: Browser;
let page: Page;
let api: ReturnType<typeof restClient>;
let instruments: readonly Instrument[];
const pageErrors: string[] = [];

beforeAll(async () => {
  if (!existsSync(CHROMIUM)) {
    throw new Error(
      `Chromium not found at ${CHROMIUM}: install it (apt-get install -y chromium; .ci/run does) or set CHROMIUM_PATH`,
    );
  }
  platform = await startPlatform('dashboard-e2e', {
    STREAM_INTERVAL_SECONDS: '0.25',
    API_KEYS: `${API_KEY},${TRADER_KEY}:trader`,
  });
  api = restClient(platform);
  instruments = await platform.components.loadInstruments();
  browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking'],
  });
  page = await browser.newPage({ viewport: { width: 1440, height: 960 } });
  page.on('pageerror', (error) => pageErrors.push(error.message));
  page.on('console', (message) => {
    // Refused requests are logged by the browser itself; the page shows them (tested below).
    if (message.type() === 'error' && !message.text().startsWith('Failed to load resource')) {
      pageErrors.push(message.text());
    }
  });
}, 60_000);

afterAll(async () => {
  await browser?.close();
  await platform?.close();
});

/** Polls the page until `check` holds (the page's state is read through locators). */
function until(check: () => Promise<boolean>, message: string, timeoutMs = 15_000): Promise<void> {
  return waitFor(check, { timeoutMs, intervalMs: 100, message });
}

/** The text of the first element matching `selector`. */
async function text(selector: string): Promise<string> {
  return (await page.locator(selector).first().textContent()) ?? '';
}

/** The texts of the cells matching `selector` in the shown option chain. */
function cellTexts(selector: string): Promise<string[]> {
  return page.$$eval(`#chain tbody ${selector}`, (cells) => cells.map((c) => c.textContent ?? ''));
}

describe('dashboard server', () => {
  it('serves the page, its assets and uPlot from the installed package, and nothing else', async () => {
    const html = await fetch(`${platform.url}/`);
    expect(html.status).toBe(200);
    expect(html.headers.get('content-type')).toContain('text/html');
    expect(html.headers.get('content-security-policy')).toContain("default-src 'self'");
    expect(await html.text()).toContain('/dashboard/dashboard.js');
    for (const path of ['/dashboard/dashboard.js', '/dashboard/dashboard.css', '/vendor/uplot/uPlot.iife.min.js']) {
      expect((await fetch(`${platform.url}${path}`)).status, path).toBe(200);
    }
    expect((await fetch(`${platform.url}/dashboard/../package.json`)).status).toBe(404);
    expect((await fetch(`${platform.url}/dashboard/tsconfig.json`)).status).toBe(404);
    expect((await fetch(`${platform.url}/`, { method: 'POST' })).status).toBe(404);
  });

  it('hands this machine a fresh JWT the platform accepts', async () => {
    const response = await fetch(`${platform.url}/dashboard/config.json`);
    expect(response.headers.get('cache-control')).toBe('no-store');
    const config = (await response.json()) as DashboardConfig;
    expect(config.token).toEqual(expect.any(String));
    const { payload } = await jwtVerify(config.token ?? '', new TextEncoder().encode(DEVELOPMENT_JWT_SECRET));
    expect(payload.sub).toBe('local-dashboard');
    expect(payload.roles).toEqual(['admin']);
    expect(Date.parse(config.expires_at ?? '')).toBeGreaterThan(Date.now());
    const subscriptions = await fetch(`${platform.url}/subscriptions`, {
      headers: { authorization: `Bearer ${config.token}` },
    });
    expect(subscriptions.status).toBe(200);
  });
});

describe('dashboard in Chromium', () => {
  it('connects over the WebSocket and fills the option chain with live values', async () => {
    await page.goto(platform.url);
    await page.waitForSelector('#connection[data-state="open"]', { timeout: 15_000 });
    expect(await text('#user')).toBe('Local dashboard');

    // Every strike of the nearest NIFTY expiry is seeded, so its chain fills on both sides.
    await until(async () => (await cellTexts('td.ltp')).filter((t) => /\d/.test(t)).length >= 20, 'the chain to fill');
    const strikes = (
      await page.locator('#chain tbody tr').evaluateAll((rows) => rows.map((r) => r.getAttribute('data-strike')))
    ).map(Number);
    expect(strikes.length).toBeGreaterThanOrEqual(10);
    expect(strikes).toEqual([...strikes].sort((a, b) => a - b));

    const ltp = (await cellTexts('td.ce.ltp')).filter((t) => t !== '—');
    expect(ltp.every((t) => Number(t.replaceAll(',', '')) > 0)).toBe(true);
    const ivs = (await cellTexts('td.iv')).filter((t) => t !== '—');
    expect(ivs.length).toBeGreaterThan(0);
    expect(ivs.every((t) => /^\d+\.\d{2}%$/.test(t))).toBe(true);
    const ceDeltas = (await cellTexts('td.ce.delta')).filter((t) => t !== '—').map(Number);
    expect(ceDeltas.every((d) => d >= 0 && d <= 1)).toBe(true);
    const peDeltas = (await cellTexts('td.pe.delta')).filter((t) => t !== '—').map(Number);
    expect(peDeltas.every((d) => d >= -1 && d <= 0)).toBe(true);
    for (const field of ['gamma', 'theta', 'vega', 'oi']) {
      expect(
        (await cellTexts(`td.${field}`)).some((t) => /\d/.test(t)),
        field,
      ).toBe(true);
    }
    await until(async () => (await page.locator('#chain tbody tr.atm').count()) === 1, 'the at-the-money strike');

    // The values move as ticks arrive.
    const before = (await cellTexts('td.ltp')).join('|');
    await until(async () => (await cellTexts('td.ltp')).join('|') !== before, 'the chain to change', 10_000);
  });

  it('shows the underlying with its chart, the measured latency and the tick rate', async () => {
    await until(
      async () => Number(await page.locator('#chart').getAttribute('data-points')) >= 2,
      'two points on the chart',
    );
    expect(await page.locator('#chart canvas').count()).toBe(1);
    expect(await text('#spot-name')).toBe('NIFTY');
    expect(Number((await text('#spot-price')).replaceAll(',', ''))).toBeGreaterThan(1000);
    await until(async () => /^\d+$/.test(await text('#latency-p50')), 'a latency figure');
    const p50 = Number(await text('#latency-p50'));
    expect(p50).toBeGreaterThanOrEqual(0);
    expect(p50).toBeLessThan(5000);
    await until(async () => Number(await text('#tick-rate')) > 0, 'a tick rate');

    // Another underlying's tab shows its own price and chain.
    await page.locator('#underlyings button', { hasText: 'BANKNIFTY' }).click();
    await until(async () => (await text('#spot-name')) === 'BANKNIFTY', 'the BANKNIFTY tab');
    expect(await page.locator('#chain-select').inputValue()).toMatch(/^BANKNIFTY /);
    await page.locator('#underlyings button', { hasText: /^NIFTY$/ }).click();
    await until(async () => (await text('#spot-name')) === 'NIFTY', 'the NIFTY tab');
  });

  it('switches the connection to batch delivery and keeps streaming', async () => {
    await page.locator('#delivery').selectOption('batch');
    await until(
      async () => (await text('#events li')).includes('Delivery: batch every 250 ms'),
      'the configured reply',
    );
    const before = (await cellTexts('td.ltp')).join('|');
    await until(async () => (await cellTexts('td.ltp')).join('|') !== before, 'batched ticks', 10_000);
    await page.locator('#delivery').selectOption('tick');
    await until(async () => (await text('#events li')).includes('Delivery: tick'), 'tick delivery again');
  });

  it('subscribes a token over REST and the WebSocket, streams it, and unsubscribes it', async () => {
    const nearest = instruments
      .filter((i) => i.name === 'NIFTY' && i.instrumentType === 'CE' && i.expiry !== null)
      .map((i) => i.expiry as string)
      .sort()[0];
    const later = instruments.find(
      (i) => i.name === 'NIFTY' && i.instrumentType === 'PE' && i.expiry !== null && i.expiry > (nearest ?? ''),
    ) as Instrument;
    expect(later).toBeDefined();
    const row = page.locator(`#subscriptions tr[data-token="${later.instrumentToken}"]`);
    expect(await row.count()).toBe(0);

    await page.locator('#subscribe-input').fill(later.tradingsymbol);
    await page.locator('#subscribe-form button').click();
    await until(
      async () => (await text('#subscriptions-status')).startsWith(`Subscribed ${later.tradingsymbol}`),
      'the subscription to be confirmed',
    );
    const listed = SubscriptionListResponse.parse((await api.get('/subscriptions?status=active&limit=100')).body);
    expect(listed.subscriptions.map((s) => s.instrument_token)).toContain(later.instrumentToken);

    // Its ticks arrive: the row counts them, and its expiry's chain appears.
    await until(async () => Number(await row.locator('td.count').textContent()) > 0, 'ticks of the new subscription');
    expect(Number((await row.locator('td.ltp').textContent())?.replaceAll(',', ''))).toBeGreaterThan(0);
    const chainKey = `NIFTY ${later.expiry}`;
    await page.waitForSelector(`#chain-select option[value="${chainKey}"]`, { state: 'attached' });
    await page.locator('#chain-select').selectOption(chainKey);
    await until(
      async () => /\d/.test(await text(`#chain tbody td.pe.ltp[data-token="${later.instrumentToken}"]`)),
      'the new option in its chain',
    );

    // Deactivating stops the instrument for every client: the page asks first, and a "no" keeps it.
    const declined = new Promise<string>((resolve) =>
      page.once('dialog', (dialog) => {
        resolve(dialog.message());
        void dialog.dismiss();
      }),
    );
    await row.locator('button.remove').click();
    expect(await declined).toContain(`Deactivate ${later.tradingsymbol}?`);
    expect(await row.count()).toBe(1);
    const active = SubscriptionListResponse.parse((await api.get('/subscriptions?status=active&limit=100')).body);
    expect(active.subscriptions.map((s) => s.instrument_token)).toContain(later.instrumentToken);
    page.once('dialog', (dialog) => void dialog.accept());
    await row.locator('button.remove').click();
    await until(
      async () => (await text('#subscriptions-status')) === `Unsubscribed ${later.tradingsymbol}`,
      'the unsubscription to be confirmed',
    );
    expect(await row.count()).toBe(0);
    const after = await api.get('/subscriptions?status=inactive&limit=100');
    expect(SubscriptionListResponse.parse(after.body).subscriptions.map((s) => s.instrument_token)).toContain(
      later.instrumentToken,
    );
    await page.locator('#chain-select').selectOption(`NIFTY ${nearest}`);
  });

  it('reports a failed subscription plainly', async () => {
    await page.locator('#subscribe-input').fill('NO-SUCH-SYMBOL');
    await page.locator('#subscribe-form button').click();
    await page.waitForSelector('#subscriptions-status[data-kind="error"]');
    expect(await text('#subscriptions-status')).toContain('No instrument matches "NO-SUCH-SYMBOL"');
  });

  it('reports a refused order with the API error', async () => {
    await page.locator('#order-symbol').fill('NIFTY-ANYTHING');
    await page.locator('#order-quantity').fill('0');
    // The browser's own validation would stop a quantity of 0 before the API sees it.
    await page.locator('#order-form').evaluate((form) => form.setAttribute('novalidate', ''));
    await page.locator('#order-submit').click();
    await page.waitForSelector('#order-status[data-status="ERROR"]');
    expect(await text('#order-message')).toMatch(
      ORDERS_ROUTE ? /The order was not accepted: HTTP 400 VALIDATION_FAILED: .*quantity/ : /HTTP 404/,
    );
    await page.locator('#order-form').evaluate((form) => form.removeAttribute('novalidate'));
  });

  it('places a paper order from the ticket and follows it to COMPLETED', async () => {
    // A click on a chain price puts that option on the ticket, one lot.
    const cell = page.locator('#chain tbody td.ce.ltp[data-token]').first();
    const token = Number(await cell.getAttribute('data-token'));
    const option = instruments.find((i) => i.instrumentToken === token) as Instrument;
    await cell.click();
    await until(
      async () =>
        (await page.locator('#order-symbol').inputValue()) === option.tradingsymbol &&
        (await page.locator('#order-quantity').inputValue()) === String(option.lotSize),
      'the option on the ticket',
    );
    await page.locator('#order-submit').click();

    if (!ORDERS_ROUTE) {
      // Without the order routes the ticket must say so, not fail silently.
      await page.waitForSelector('#order-status[data-status="ERROR"]');
      expect(await text('#order-message')).toContain('HTTP 404');
      return;
    }
    await page.waitForSelector('#order-status[data-status="COMPLETED"]', { timeout: 20_000 });
    expect(await page.locator('#order-steps li').allTextContents()).toEqual(['PENDING', 'RUNNING', 'COMPLETED']);
    expect(await page.locator('#order-steps li.done').count()).toBe(3);
    const message = await text('#order-message');
    expect(message).toMatch(/COMPLETED, paper order \S+/);
    expect(await text('#order-mode')).toBe('paper trading');

    const taskId = /^Task (\S+):/.exec(message)?.[1] ?? '';
    // The order belongs to the page's user: read it with the page's token (another caller gets 404).
    const { token: pageToken } = (await (
      await fetch(`${platform.url}/dashboard/config.json`)
    ).json()) as DashboardConfig;
    expect((await restClient(platform, TRADER_KEY).get(`/orders/${taskId}`)).status).toBe(404);
    const own = await fetch(`${platform.url}/orders/${taskId}`, { headers: { authorization: `Bearer ${pageToken}` } });
    const record = OrderResponse.parse(await own.json()).order;
    expect(record.status).toBe('COMPLETED');
    expect(record.task.operation).toBe('place_order');
    expect(record.task.params).toMatchObject({ tradingsymbol: option.tradingsymbol, quantity: option.lotSize });
  });

  it('asks for a token when the platform hands out none, and connects with the one pasted', async () => {
    const config = (await (await fetch(`${platform.url}/dashboard/config.json`)).json()) as DashboardConfig;
    const other = await browser.newPage();
    try {
      await other.route('**/dashboard/config.json', (route) =>
        route.fulfill({
          json: { token: null, expires_at: null, reason: 'Tokens are handed out only to this machine', ws_path: '/ws' },
        }),
      );
      await other.goto(platform.url);
      await other.waitForSelector('#token-form', { state: 'visible' });
      expect(await other.locator('#token-reason').textContent()).toBe('Tokens are handed out only to this machine');
      expect(await other.locator('#connection').getAttribute('data-state')).toBe('idle');
      await other.locator('#token-input').fill(config.token ?? '');
      await other.locator('#token-form button').click();
      await other.waitForSelector('#connection[data-state="open"]', { timeout: 15_000 });
      await other.waitForSelector('#token-form', { state: 'hidden' });
    } finally {
      await other.close();
    }
  });

  it('shows a viewer no admin controls: no subscribe form, no ✕ on the pinned set', async () => {
    const viewerToken = await new SignJWT({ name: 'Viewer', roles: ['viewer'] })
      .setProtectedHeader({ alg: 'HS256' })
      .setSubject('dashboard-viewer')
      .setExpirationTime('10m')
      .sign(new TextEncoder().encode(DEVELOPMENT_JWT_SECRET));
    const other = await browser.newPage();
    try {
      await other.route('**/dashboard/config.json', (route) =>
        route.fulfill({ json: { token: viewerToken, expires_at: null, reason: null, ws_path: '/ws' } }),
      );
      await other.goto(platform.url);
      // Subscriptions are listed before the socket opens: the table is filled by then.
      await other.waitForSelector('#connection[data-state="open"]', { timeout: 15_000 });
      expect(await other.locator('#subscriptions tr').count()).toBeGreaterThan(0);
      expect(await other.locator('#subscriptions button.remove').count()).toBe(0);
      expect(await other.locator('#subscribe-form').isHidden()).toBe(true);
      // The admin's page, for contrast, has one per row.
      expect(await page.locator('#subscriptions button.remove').count()).toBe(
        await page.locator('#subscriptions tr').count(),
      );
    } finally {
      await other.close();
    }
  });

  it('has no script errors, and leaves a screenshot', async () => {
    await mkdir('test-results', { recursive: true });
    await page.screenshot({ path: SCREENSHOT, fullPage: true });
    expect(existsSync(SCREENSHOT)).toBe(true);
    expect(pageErrors).toEqual([]);
  });
});
