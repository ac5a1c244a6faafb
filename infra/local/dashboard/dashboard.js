// @ts-check
/**
 * The local platform's live dashboard: plain DOM, no framework, no build step. It reads its JWT from
 * `/dashboard/config.json`, talks to the REST API with it (subscriptions, instruments, orders) and
 * streams ticks over the WebSocket API exactly as any outside client would. Ticks only update a
 * model; one animation frame at a time writes the changed cells, so a burst of ticks costs one
 * layout, not one per tick.
 */

/** @typedef {import('../../../shared/contracts/tick.js').TickPayload} TickPayload */
/** @typedef {import('../../../shared/contracts/tick.js').UnderlyingBar} UnderlyingBar */
/** @typedef {import('../../../shared/contracts/websocket.js').ServerMessage} ServerMessage */
/** @typedef {import('../../../shared/contracts/subscription.js').Subscription} Subscription */
/** @typedef {import('../../../shared/contracts/subscription.js').SubscriptionListResponse} SubscriptionListResponse */
/** @typedef {import('../../../shared/contracts/instrument.js').InstrumentResponse} Instrument */
/** @typedef {import('../../../shared/contracts/instrument.js').InstrumentListResponse} InstrumentListResponse */
/** @typedef {import('../../../shared/contracts/history.js').HistoryResponse} HistoryResponse */

/**
 * What `GET /dashboard/config.json` answers (see `infra/local/dashboard-server.ts`).
 * @typedef {{ token: string | null, expires_at: string | null, reason: string | null, ws_path: string }} DashboardConfig
 */

/**
 * The part of an order's status record (`GET /orders/{task_id}`) the ticket shows.
 * @typedef {{
 *   task_id: string,
 *   status: string,
 *   result: { order_id: string, paper: boolean, status?: string, average_price?: number } | null,
 *   last_error: string | null,
 *   paper?: boolean,
 * }} OrderStatus
 */

/** @typedef {'CE' | 'PE'} Side */
/** @typedef {{ ltp: HTMLTableCellElement, iv: HTMLTableCellElement, delta: HTMLTableCellElement, gamma: HTMLTableCellElement, theta: HTMLTableCellElement, vega: HTMLTableCellElement, oi: HTMLTableCellElement }} SideCells */
/** @typedef {{ tr: HTMLTableRowElement, strike: number, CE: SideCells, PE: SideCells }} ChainRow */
/** @typedef {{ key: string, underlying: string, expiry: string, body: HTMLTableSectionElement, rows: Map<number, ChainRow> }} Chain */
/** @typedef {{ subscription: Subscription, row: HTMLTableRowElement, ltp: HTMLTableCellElement, count: HTMLTableCellElement, ticks: number }} SubscriptionRow */
/** @typedef {{ name: string, token: number | null, tab: HTMLButtonElement, xs: number[], ys: number[], first: number | null, last: number | null, seeded: boolean }} Underlying */

/** Most points kept per underlying's chart: a full session of one-second bars. */
const MAX_CHART_POINTS = 23_400;
/** Ticks whose latency the percentiles are taken over. */
const LATENCY_WINDOW = 512;
/** Most tokens named in one WebSocket message (the protocol allows 1000). */
const TOKENS_PER_MESSAGE = 500;
/** How often an order's status record is read while it is in flight. */
const ORDER_POLL_MS = 250;
/** When an order still in flight stops being followed. */
const ORDER_FOLLOW_MS = 120_000;
const FINAL_ORDER_STATUSES = new Set(['COMPLETED', 'DEAD_LETTER']);
/** How often latency and rate are redrawn, and how many such windows the rate averages. */
const STATS_INTERVAL_MS = 500;
const RATE_WINDOWS = 4;

/**
 * An element of the page by id, checked to be of the expected kind.
 * @template {typeof HTMLElement} C
 * @param {string} id
 * @param {C} kind
 * @returns {InstanceType<C>}
 */
function byId(id, kind) {
  const element = document.getElementById(id);
  if (!(element instanceof kind)) throw new Error(`The page has no ${kind.name} #${id}`);
  return /** @type {InstanceType<C>} */ (element);
}

const ui = {
  connection: byId('connection', HTMLElement),
  user: byId('user', HTMLElement),
  streamingCount: byId('streaming-count', HTMLElement),
  latencyLast: byId('latency-last', HTMLElement),
  latencyP50: byId('latency-p50', HTMLElement),
  latencyP99: byId('latency-p99', HTMLElement),
  tickRate: byId('tick-rate', HTMLElement),
  delivery: byId('delivery', HTMLSelectElement),
  tokenForm: byId('token-form', HTMLFormElement),
  tokenReason: byId('token-reason', HTMLElement),
  tokenInput: byId('token-input', HTMLInputElement),
  underlyings: byId('underlyings', HTMLElement),
  spotName: byId('spot-name', HTMLElement),
  spotPrice: byId('spot-price', HTMLElement),
  spotChange: byId('spot-change', HTMLElement),
  chart: byId('chart', HTMLElement),
  chainSelect: byId('chain-select', HTMLSelectElement),
  chain: byId('chain', HTMLTableElement),
  chainEmpty: byId('chain-empty', HTMLElement),
  subscribeForm: byId('subscribe-form', HTMLFormElement),
  subscribeInput: byId('subscribe-input', HTMLInputElement),
  subscriptionsStatus: byId('subscriptions-status', HTMLElement),
  subscriptions: byId('subscriptions', HTMLTableSectionElement),
  orderForm: byId('order-form', HTMLFormElement),
  orderSymbol: byId('order-symbol', HTMLInputElement),
  orderSymbols: byId('order-symbols', HTMLDataListElement),
  orderExchange: byId('order-exchange', HTMLSelectElement),
  orderSide: byId('order-side', HTMLSelectElement),
  orderQuantity: byId('order-quantity', HTMLInputElement),
  orderProduct: byId('order-product', HTMLSelectElement),
  orderType: byId('order-type', HTMLSelectElement),
  orderPrice: byId('order-price', HTMLInputElement),
  orderAccount: byId('order-account', HTMLInputElement),
  orderSubmit: byId('order-submit', HTMLButtonElement),
  orderMode: byId('order-mode', HTMLElement),
  orderStatus: byId('order-status', HTMLElement),
  orderSteps: byId('order-steps', HTMLOListElement),
  orderMessage: byId('order-message', HTMLElement),
  events: byId('events', HTMLOListElement),
};

const state = {
  token: '',
  /** Whether the token is an admin's: only then are the pinned set's controls shown. */
  admin: false,
  wsPath: '/ws',
  /** @type {WebSocket | null} */
  ws: null,
  reconnectDelayMs: 1000,
  /** @type {ReturnType<typeof setTimeout> | undefined} */
  reconnectTimer: undefined,
  /** Tokens this page asks the WebSocket for: every active subscription and the index tokens. */
  streaming: /** @type {Set<number>} */ (new Set()),
  /** @type {Map<string, Underlying>} */
  underlyings: new Map(),
  /** Index token → underlying name, for bars. */
  indexTokens: /** @type {Map<number, string>} */ (new Map()),
  /** @type {string | null} */
  selectedUnderlying: null,
  /** @type {Map<string, Chain>} */
  chains: new Map(),
  /** @type {string | null} */
  selectedChain: null,
  /** Whether the user has picked a chain or an underlying (then the page stops choosing). */
  chainChosen: false,
  /** Token → where its values are shown in the chain. */
  chainCells: /** @type {Map<number, { chain: Chain, cells: SideCells }>} */ (new Map()),
  /** @type {Map<number, SubscriptionRow>} */
  subscriptions: new Map(),
  /** The newest tick of each token, and the tokens changed since the last frame. */
  latest: /** @type {Map<number, TickPayload>} */ (new Map()),
  /** @type {Map<number, number>} */
  previousLtp: new Map(),
  dirty: /** @type {Set<number>} */ (new Set()),
  chartDirty: false,
  spotDirty: false,
  framePending: false,
  latencies: new Float64Array(LATENCY_WINDOW),
  latencyCount: 0,
  /** @type {number | null} */
  lastLatency: null,
  /** Ticks counted in each of the last few rate windows (ticks often arrive in bursts). */
  rateWindows: /** @type {number[]} */ ([]),
  ticksSinceRate: 0,
  /** @type {InstanceType<typeof uPlot> | null} */
  chart: null,
};

const number = {
  price: new Intl.NumberFormat('en-IN', { minimumFractionDigits: 2, maximumFractionDigits: 2 }),
  oi: new Intl.NumberFormat('en-IN', { maximumFractionDigits: 0 }),
};

/** @param {number | null | undefined} value @param {number} digits */
function fixed(value, digits) {
  return value === null || value === undefined || !Number.isFinite(value) ? '—' : value.toFixed(digits);
}

/** @param {string} text */
function logEvent(text) {
  const item = document.createElement('li');
  const time = document.createElement('time');
  time.textContent = new Date().toLocaleTimeString('en-IN', { hour12: false });
  item.append(time, ` ${text}`);
  ui.events.prepend(item);
  while (ui.events.childElementCount > 60) ui.events.lastElementChild?.remove();
}

/** @param {string} name @param {string} [title] */
function setConnection(name, title = '') {
  ui.connection.dataset.state = name;
  ui.connection.textContent = name;
  ui.connection.title = title;
}

// ---------------------------------------------------------------------------------------------
// REST

/**
 * One REST call with the page's token. Never throws for an HTTP error: the caller shows it.
 * @param {string} method @param {string} path @param {unknown} [body]
 * @returns {Promise<{ ok: boolean, status: number, body: unknown }>}
 */
async function api(method, path, body) {
  /** @type {Record<string, string>} */
  const headers = { authorization: `Bearer ${state.token}` };
  if (body !== undefined) headers['content-type'] = 'application/json';
  try {
    const response = await fetch(path, {
      method,
      headers,
      ...(body !== undefined && { body: JSON.stringify(body) }),
    });
    const text = await response.text();
    /** @type {unknown} */
    let parsed = text;
    try {
      parsed = text === '' ? null : JSON.parse(text);
    } catch {
      // Not JSON: keep the text, the error message shows it.
    }
    return { ok: response.ok, status: response.status, body: parsed };
  } catch (error) {
    return { ok: false, status: 0, body: error instanceof Error ? error.message : String(error) };
  }
}

/**
 * A REST failure as one readable line: status, error code and message (the API's error shape).
 * @param {{ status: number, body: unknown }} response
 */
function describeFailure(response) {
  const { status, body } = response;
  if (status === 0) return `The platform cannot be reached (${String(body)})`;
  if (typeof body === 'object' && body !== null && 'error' in body) {
    const error = /** @type {{ error: { code?: unknown, message?: unknown, details?: unknown } }} */ (body).error;
    const details = Array.isArray(error.details)
      ? error.details
          .map((d) => (typeof d === 'object' && d !== null ? `${d.path}: ${d.message}` : String(d)))
          .join('; ')
      : '';
    return `HTTP ${status} ${String(error.code ?? '')}: ${String(error.message ?? '')}${details ? ` (${details})` : ''}`;
  }
  if (typeof body === 'object' && body !== null && 'message' in body) {
    return `HTTP ${status}: ${String(/** @type {{ message: unknown }} */ (body).message)}`;
  }
  return `HTTP ${status}: ${typeof body === 'string' ? body.slice(0, 200) : 'unexpected response'}`;
}

/** @returns {Promise<Subscription[]>} every active subscription, all pages */
async function loadActiveSubscriptions() {
  /** @type {Subscription[]} */
  const all = [];
  /** @type {string | null | undefined} */
  let cursor = null;
  do {
    const query = new URLSearchParams({ status: 'active', limit: '100' });
    if (cursor) query.set('cursor', cursor);
    const response = await api('GET', `/subscriptions?${query}`);
    if (!response.ok) throw new Error(describeFailure(response));
    const page = /** @type {SubscriptionListResponse} */ (response.body);
    all.push(...page.subscriptions);
    cursor = page.next_cursor;
  } while (cursor);
  return all;
}

/** @param {number} token @returns {Promise<Instrument | null>} */
async function instrument(token) {
  const response = await api('GET', `/instruments/${token}`);
  return response.ok ? /** @type {Instrument} */ (response.body) : null;
}

/**
 * Resolves what the user typed (a token, or a tradingsymbol) to an instrument of the registry.
 * @param {string} text @returns {Promise<Instrument | string>} the instrument, or why none
 */
async function resolveInstrument(text) {
  const value = text.trim();
  if (/^\d+$/.test(value)) {
    const found = await instrument(Number(value));
    return found ?? `No instrument with token ${value}`;
  }
  const response = await api('GET', `/instruments?${new URLSearchParams({ q: value, limit: '20' })}`);
  if (!response.ok) return describeFailure(response);
  const { instruments } = /** @type {InstrumentListResponse} */ (response.body);
  const exact = instruments.find((i) => i.tradingsymbol.toUpperCase() === value.toUpperCase());
  if (exact) return exact;
  if (instruments.length === 1 && instruments[0]) return instruments[0];
  return instruments.length === 0
    ? `No instrument matches "${value}"`
    : `"${value}" matches ${instruments.length}${instruments.length === 20 ? '+' : ''} instruments, e.g. ${instruments
        .slice(0, 3)
        .map((i) => i.tradingsymbol)
        .join(', ')}`;
}

// ---------------------------------------------------------------------------------------------
// WebSocket

/** @param {'subscribe' | 'unsubscribe'} action @param {readonly number[]} tokens */
function sendTokens(action, tokens) {
  const ws = state.ws;
  if (ws === null || ws.readyState !== WebSocket.OPEN) return;
  for (let i = 0; i < tokens.length; i += TOKENS_PER_MESSAGE) {
    ws.send(JSON.stringify({ action, tokens: tokens.slice(i, i + TOKENS_PER_MESSAGE) }));
  }
}

function sendDelivery() {
  const ws = state.ws;
  if (ws === null || ws.readyState !== WebSocket.OPEN) return;
  const batch = ui.delivery.value === 'batch';
  ws.send(
    JSON.stringify({ action: 'configure', delivery: batch ? 'batch' : 'tick', ...(batch && { interval_ms: 250 }) }),
  );
}

function connect() {
  clearTimeout(state.reconnectTimer);
  const url = new URL(state.wsPath, window.location.href);
  url.protocol = url.protocol === 'https:' ? 'wss:' : 'ws:';
  url.searchParams.set('token', state.token);
  setConnection('connecting');
  const ws = new WebSocket(url);
  state.ws = ws;
  ws.addEventListener('open', () => {
    state.reconnectDelayMs = 1000;
    setConnection('open');
    if (ui.delivery.value !== 'tick') sendDelivery();
    sendTokens('subscribe', [...state.streaming]);
  });
  ws.addEventListener('message', (event) => {
    if (typeof event.data !== 'string') return;
    /** @type {ServerMessage} */
    let message;
    try {
      message = JSON.parse(event.data);
    } catch {
      logEvent('A message that is not JSON was ignored');
      return;
    }
    onMessage(message);
  });
  ws.addEventListener('close', (event) => {
    if (state.ws !== ws) return;
    state.ws = null;
    const delay = state.reconnectDelayMs;
    state.reconnectDelayMs = Math.min(delay * 2, 15_000);
    const why = event.code === 1006 ? 'connection lost or refused' : `code ${event.code} ${event.reason}`.trim();
    setConnection('closed', why);
    logEvent(`WebSocket closed (${why}); reconnecting in ${delay / 1000} s`);
    state.reconnectTimer = setTimeout(connect, delay);
  });
}

/** @param {ServerMessage} message */
function onMessage(message) {
  switch (message.type) {
    case 'connected':
      ui.user.textContent = message.user.name ?? message.user.user_id;
      logEvent(`Connected as ${message.user.user_id} (connection ${message.connection_id})`);
      break;
    case 'subscribed':
    case 'unsubscribed':
      ui.streamingCount.textContent = String(message.total);
      logEvent(`${message.type} ${message.tokens.length} token(s); streaming ${message.total}`);
      break;
    case 'tick':
      onTick(message.data);
      break;
    case 'ticks':
      for (const tick of message.data) onTick(tick);
      break;
    case 'bar':
      onBar(message.data);
      break;
    case 'configured':
      logEvent(`Delivery: ${message.delivery}${message.interval_ms ? ` every ${message.interval_ms} ms` : ''}`);
      break;
    case 'error':
      logEvent(`Server error: ${message.message}`);
      break;
    case 'pong':
      break;
  }
}

// ---------------------------------------------------------------------------------------------
// Model

/** @param {TickPayload} tick */
function onTick(tick) {
  const token = tick.instrument_token;
  const before = state.latest.get(token);
  if (before) state.previousLtp.set(token, before.last_price);
  state.latest.set(token, tick);
  state.dirty.add(token);
  state.ticksSinceRate += 1;
  const subscription = state.subscriptions.get(token);
  if (subscription) subscription.ticks += 1;
  if (tick.received_at_ms !== undefined) {
    const latency = Date.now() - tick.received_at_ms;
    state.latencies[state.latencyCount % LATENCY_WINDOW] = latency;
    state.latencyCount += 1;
    state.lastLatency = latency;
  }
  if (tick.underlying !== undefined && tick.strike !== undefined && tick.expiry !== undefined && tick.option_type) {
    if (!state.chainCells.has(token)) placeInChain(tick);
    const underlying = underlyingNamed(tick.underlying);
    if (underlying.last === null && tick.underlying_price !== undefined) {
      // No bar yet: the option's underlying price stands in for the spot.
      underlying.first ??= tick.underlying_price;
      if (underlying.name === state.selectedUnderlying) state.spotDirty = true;
      spotFallback.set(underlying.name, tick.underlying_price);
    }
  }
  scheduleFrame();
}

/** The underlying price carried by option ticks, shown until the index's first bar arrives. */
const spotFallback = /** @type {Map<string, number>} */ (new Map());

/** @param {UnderlyingBar} bar */
function onBar(bar) {
  const name = state.indexTokens.get(bar.instrument_token) ?? bar.tradingsymbol;
  const underlying = underlyingNamed(name, bar.instrument_token);
  underlying.first ??= bar.close;
  underlying.last = bar.close;
  const seconds = Date.parse(bar.timestamp) / 1000;
  const lastX = underlying.xs[underlying.xs.length - 1];
  if (lastX !== undefined && seconds <= lastX) {
    underlying.ys[underlying.ys.length - 1] = bar.close;
  } else {
    underlying.xs.push(seconds);
    underlying.ys.push(bar.close);
    if (underlying.xs.length > MAX_CHART_POINTS) {
      underlying.xs.shift();
      underlying.ys.shift();
    }
  }
  if (!bar.is_mock && !underlying.seeded) {
    underlying.seeded = true;
    void seedHistory(underlying);
  }
  if (name === state.selectedUnderlying) {
    state.chartDirty = true;
    state.spotDirty = true;
  }
  scheduleFrame();
}

/**
 * Puts the session so far on the chart, once per underlying: the index's minute candles from
 * `GET /history`, before the first live bar. Only for real market data: the mock market's history
 * and its live feed are independent random walks, and joining them would draw a jump that never was.
 * @param {Underlying} underlying
 */
async function seedHistory(underlying) {
  if (underlying.token === null) return;
  const now = new Date();
  const today = new Intl.DateTimeFormat('en-CA', { timeZone: 'Asia/Kolkata' }).format(now);
  const query = new URLSearchParams({
    instrument_token: String(underlying.token),
    interval: 'minute',
    from: new Date(`${today}T09:15:00+05:30`).toISOString(),
    to: now.toISOString(),
  });
  const response = await api('GET', `/history?${query}`);
  if (!response.ok) {
    logEvent(`History of ${underlying.name}: ${describeFailure(response)}`);
    return;
  }
  const firstLive = underlying.xs[0] ?? Number.POSITIVE_INFINITY;
  const candles = /** @type {HistoryResponse} */ (response.body).candles.filter(
    (c) => Date.parse(c.date) / 1000 < firstLive,
  );
  underlying.xs.unshift(...candles.map((c) => Date.parse(c.date) / 1000));
  underlying.ys.unshift(...candles.map((c) => c.close));
  if (candles[0]) underlying.first = candles[0].open;
  if (underlying.name === state.selectedUnderlying) {
    state.chartDirty = true;
    state.spotDirty = true;
    scheduleFrame();
  }
}

/**
 * The underlying of this name, created (with its tab) on first sight.
 * @param {string} name @param {number | null} [token]
 * @returns {Underlying}
 */
function underlyingNamed(name, token = null) {
  let underlying = state.underlyings.get(name);
  if (underlying === undefined) {
    const tab = document.createElement('button');
    tab.type = 'button';
    tab.textContent = name;
    tab.dataset.underlying = name;
    tab.addEventListener('click', () => {
      state.chainChosen = true;
      selectUnderlying(name, true);
    });
    ui.underlyings.append(tab);
    underlying = { name, token, tab, xs: [], ys: [], first: null, last: null, seeded: false };
    state.underlyings.set(name, underlying);
    if (state.selectedUnderlying === null) selectUnderlying(name, false);
  }
  if (token !== null) underlying.token = token;
  return underlying;
}

/** @param {string} name @param {boolean} withChain also show this underlying's nearest chain */
function selectUnderlying(name, withChain) {
  state.selectedUnderlying = name;
  for (const u of state.underlyings.values()) u.tab.classList.toggle('active', u.name === name);
  if (withChain) {
    const chain = [...state.chains.values()]
      .filter((c) => c.underlying === name)
      .sort((a, b) => a.expiry.localeCompare(b.expiry))[0];
    if (chain) selectChain(chain.key);
  }
  state.chartDirty = true;
  state.spotDirty = true;
  scheduleFrame();
}

/** @param {string} key */
function selectChain(key) {
  const chain = state.chains.get(key);
  if (!chain) return;
  state.selectedChain = key;
  ui.chainSelect.value = key;
  const current = ui.chain.tBodies[0];
  if (current) current.replaceWith(chain.body);
  else ui.chain.append(chain.body);
  ui.chainEmpty.hidden = chain.rows.size > 0;
  if (state.selectedUnderlying !== chain.underlying) selectUnderlying(chain.underlying, false);
  state.spotDirty = true;
  for (const token of state.chainCells.keys()) state.dirty.add(token);
  scheduleFrame();
}

/** @param {string} expiry an ISO date */
function expiryLabel(expiry) {
  return new Date(`${expiry}T00:00:00Z`).toLocaleDateString('en-IN', {
    day: '2-digit',
    month: 'short',
    year: 'numeric',
    timeZone: 'UTC',
  });
}

/**
 * Finds or makes the chain and strike row of an option, and records its cells.
 * @param {TickPayload} tick an option tick (underlying, strike, expiry and option type present)
 */
function placeInChain(tick) {
  const underlying = /** @type {string} */ (tick.underlying);
  const expiry = /** @type {string} */ (tick.expiry);
  const strike = /** @type {number} */ (tick.strike);
  const side = /** @type {Side} */ (tick.option_type);
  const key = `${underlying} ${expiry}`;
  let chain = state.chains.get(key);
  if (chain === undefined) {
    const body = document.createElement('tbody');
    body.dataset.chain = key;
    chain = { key, underlying, expiry, body, rows: new Map() };
    state.chains.set(key, chain);
    const option = document.createElement('option');
    option.value = key;
    option.textContent = `${underlying} · ${expiryLabel(expiry)}`;
    const after = [...ui.chainSelect.options].find((o) => o.value.localeCompare(key) > 0);
    ui.chainSelect.add(option, after ?? null);
    underlyingNamed(underlying);
    if (!state.chainChosen) autoSelectChain();
  }
  let row = chain.rows.get(strike);
  if (row === undefined) {
    row = makeRow(strike);
    chain.rows.set(strike, row);
    const next = [...chain.rows.values()].filter((r) => r.strike > strike).sort((a, b) => a.strike - b.strike)[0];
    chain.body.insertBefore(row.tr, next ? next.tr : null);
    if (state.selectedChain === key) ui.chainEmpty.hidden = true;
  }
  const cells = row[side];
  for (const cell of Object.values(cells)) cell.dataset.token = String(tick.instrument_token);
  row.tr.dataset[side === 'CE' ? 'ceToken' : 'peToken'] = String(tick.instrument_token);
  state.chainCells.set(tick.instrument_token, { chain, cells });
}

/**
 * Until the user picks a chain or a tab, shows the nearest expiry of the selected underlying (the
 * first one the platform has, NIFTY with the mock market), whichever order the ticks arrive in.
 */
function autoSelectChain() {
  const chains = [...state.chains.values()].sort((a, b) => a.expiry.localeCompare(b.expiry));
  const best =
    state.selectedUnderlying === null ? chains[0] : chains.find((c) => c.underlying === state.selectedUnderlying);
  if (best && best.key !== state.selectedChain) selectChain(best.key);
}

/** @param {number} strike @returns {ChainRow} */
function makeRow(strike) {
  const tr = document.createElement('tr');
  tr.dataset.strike = String(strike);
  /** @param {string} field @param {Side} side */
  const cell = (field, side) => {
    const td = document.createElement('td');
    td.className = `${side.toLowerCase()} ${field}`;
    td.dataset.field = field;
    td.textContent = '—';
    return td;
  };
  /** @param {Side} side @returns {SideCells} */
  const side = (side) => ({
    ltp: cell('ltp', side),
    iv: cell('iv', side),
    delta: cell('delta', side),
    gamma: cell('gamma', side),
    theta: cell('theta', side),
    vega: cell('vega', side),
    oi: cell('oi', side),
  });
  const ce = side('CE');
  const pe = side('PE');
  const strikeCell = document.createElement('td');
  strikeCell.className = 'strike';
  strikeCell.textContent = number.price.format(strike).replace(/\.00$/, '');
  tr.append(ce.oi, ce.vega, ce.theta, ce.gamma, ce.delta, ce.iv, ce.ltp, strikeCell);
  tr.append(pe.ltp, pe.iv, pe.delta, pe.gamma, pe.theta, pe.vega, pe.oi);
  return { tr, strike, CE: ce, PE: pe };
}

// ---------------------------------------------------------------------------------------------
// Rendering: at most once per animation frame

function scheduleFrame() {
  if (state.framePending) return;
  state.framePending = true;
  requestAnimationFrame(render);
}

function render() {
  state.framePending = false;
  const shown = state.selectedChain;
  for (const token of state.dirty) {
    const tick = state.latest.get(token);
    if (tick === undefined) continue;
    const placed = state.chainCells.get(token);
    if (placed && placed.chain.key === shown) writeCells(placed.cells, tick, state.previousLtp.get(token));
    const sub = state.subscriptions.get(token);
    if (sub) {
      sub.ltp.textContent = number.price.format(tick.last_price);
      sub.count.textContent = String(sub.ticks);
    }
  }
  state.dirty.clear();
  if (state.spotDirty) renderSpot();
  if (state.chartDirty) renderChart();
}

/**
 * @param {SideCells} cells @param {TickPayload} tick @param {number | undefined} previous
 */
function writeCells(cells, tick, previous) {
  cells.ltp.textContent = number.price.format(tick.last_price);
  cells.ltp.dataset.move =
    previous === undefined || previous === tick.last_price ? '' : tick.last_price > previous ? 'up' : 'down';
  cells.iv.textContent = tick.iv === null || tick.iv === undefined ? '—' : `${(tick.iv * 100).toFixed(2)}%`;
  cells.iv.title = tick.iv_status ?? '';
  cells.delta.textContent = fixed(tick.delta, 3);
  cells.gamma.textContent = fixed(tick.gamma, 5);
  cells.theta.textContent = fixed(tick.theta, 2);
  cells.vega.textContent = fixed(tick.vega, 2);
  cells.oi.textContent = number.oi.format(tick.oi);
}

function renderSpot() {
  state.spotDirty = false;
  const name = state.selectedUnderlying;
  if (name === null) return;
  const underlying = state.underlyings.get(name);
  const spot = underlying?.last ?? spotFallback.get(name) ?? null;
  ui.spotName.textContent = name;
  ui.spotPrice.textContent = spot === null ? '—' : number.price.format(spot);
  const first = underlying?.first ?? null;
  if (spot !== null && first !== null && first !== 0) {
    const change = spot - first;
    const since = underlying?.xs[0];
    const from =
      since === undefined
        ? ''
        : ` since ${new Date(since * 1000).toLocaleTimeString('en-IN', { hour12: false, timeZone: 'Asia/Kolkata', hour: '2-digit', minute: '2-digit' })}`;
    ui.spotChange.textContent = `${change >= 0 ? '+' : ''}${number.price.format(change)} (${((change / first) * 100).toFixed(2)}%)${from}`;
    ui.spotChange.dataset.move = change > 0 ? 'up' : change < 0 ? 'down' : '';
  }
  // Money-ness of the shown chain: the strike nearest the spot is at the money.
  const chain = state.selectedChain === null ? undefined : state.chains.get(state.selectedChain);
  if (!chain || spot === null || chain.underlying !== name) return;
  let atm = null;
  for (const row of chain.rows.values()) {
    if (atm === null || Math.abs(row.strike - spot) < Math.abs(atm.strike - spot)) atm = row;
  }
  for (const row of chain.rows.values()) {
    row.tr.classList.toggle('atm', row === atm);
    row.tr.classList.toggle('ce-itm', row.strike < spot);
    row.tr.classList.toggle('pe-itm', row.strike > spot);
  }
}

function renderChart() {
  state.chartDirty = false;
  const name = state.selectedUnderlying;
  const underlying = name === null ? undefined : state.underlyings.get(name);
  if (!underlying) return;
  if (state.chart === null) {
    state.chart = new uPlot(
      {
        width: Math.max(ui.chart.clientWidth, 200),
        height: 220,
        legend: { show: false },
        tzDate: (ts) => uPlot.tzDate(new Date(ts * 1000), 'Asia/Kolkata'),
        scales: { x: { time: true } },
        series: [{}, { label: 'close', stroke: '#4493f8', width: 1.5 }],
        axes: [
          { stroke: '#9198a1', grid: { stroke: '#262c36' }, ticks: { stroke: '#262c36' } },
          { stroke: '#9198a1', grid: { stroke: '#262c36' }, ticks: { stroke: '#262c36' }, size: 70 },
        ],
      },
      [underlying.xs, underlying.ys],
      ui.chart,
    );
    new ResizeObserver(() => state.chart?.setSize({ width: Math.max(ui.chart.clientWidth, 200), height: 220 })).observe(
      ui.chart,
    );
  } else {
    state.chart.setData([underlying.xs, underlying.ys]);
  }
  ui.chart.dataset.points = String(underlying.xs.length);
}

function renderLatency() {
  const count = Math.min(state.latencyCount, LATENCY_WINDOW);
  if (count > 0) {
    const sorted = Array.from(state.latencies.subarray(0, count)).sort((a, b) => a - b);
    const at = (/** @type {number} */ q) => sorted[Math.min(count - 1, Math.floor(q * count))] ?? 0;
    ui.latencyLast.textContent = String(Math.round(state.lastLatency ?? 0));
    ui.latencyP50.textContent = String(Math.round(at(0.5)));
    ui.latencyP99.textContent = String(Math.round(at(0.99)));
  }
  // Ticks per second over the last RATE_WINDOWS windows, so a feed that sends once a second reads steady.
  state.rateWindows.push(state.ticksSinceRate);
  if (state.rateWindows.length > RATE_WINDOWS) state.rateWindows.shift();
  const ticks = state.rateWindows.reduce((sum, n) => sum + n, 0);
  const seconds = (state.rateWindows.length * STATS_INTERVAL_MS) / 1000;
  ui.tickRate.textContent = String(Math.round(ticks / seconds));
  state.ticksSinceRate = 0;
}

// ---------------------------------------------------------------------------------------------
// Subscriptions

/** @param {Subscription} subscription */
function addSubscriptionRow(subscription) {
  const token = subscription.instrument_token;
  if (state.subscriptions.has(token)) return;
  const row = document.createElement('tr');
  row.dataset.token = String(token);
  const symbol = document.createElement('td');
  symbol.textContent = subscription.tradingsymbol;
  const tokenCell = document.createElement('td');
  tokenCell.textContent = String(token);
  const ltp = document.createElement('td');
  ltp.className = 'ltp';
  ltp.textContent = '—';
  const count = document.createElement('td');
  count.className = 'count';
  count.textContent = '0';
  const actions = document.createElement('td');
  if (state.admin) {
    const remove = document.createElement('button');
    remove.type = 'button';
    remove.className = 'remove';
    remove.textContent = '✕';
    remove.title = `Deactivate ${subscription.tradingsymbol}`;
    remove.addEventListener('click', () => {
      // Deactivating stops the instrument for every client, not only this page: ask first.
      if (window.confirm(`Deactivate ${subscription.tradingsymbol}? It stops streaming for every client.`)) {
        void unsubscribe(token);
      }
    });
    actions.append(remove);
  }
  row.append(symbol, tokenCell, ltp, count, actions);
  const next = [...state.subscriptions.values()].find(
    (s) => s.subscription.tradingsymbol.localeCompare(subscription.tradingsymbol) > 0,
  );
  ui.subscriptions.insertBefore(row, next ? next.row : null);
  state.subscriptions.set(token, { subscription, row, ltp, count, ticks: 0 });
  const option = document.createElement('option');
  option.value = subscription.tradingsymbol;
  ui.orderSymbols.append(option);
}

/** @param {string} text @param {'ok' | 'error' | ''} kind */
function subscriptionsStatus(text, kind) {
  ui.subscriptionsStatus.textContent = text;
  ui.subscriptionsStatus.dataset.kind = kind;
}

/** @param {string} text */
async function subscribe(text) {
  subscriptionsStatus(`Looking up ${text}…`, '');
  const found = await resolveInstrument(text);
  if (typeof found === 'string') {
    subscriptionsStatus(found, 'error');
    return;
  }
  const response = await api('POST', '/subscriptions', { instrument_token: found.instrument_token, mode: 'FULL' });
  if (!response.ok) {
    subscriptionsStatus(`Subscribing ${found.tradingsymbol} failed: ${describeFailure(response)}`, 'error');
    return;
  }
  const now = new Date().toISOString();
  addSubscriptionRow({
    instrument_token: found.instrument_token,
    tradingsymbol: found.tradingsymbol,
    segment: found.segment,
    status: 'active',
    requested_mode: 'FULL',
    account_id: null,
    created_at: now,
    updated_at: now,
  });
  state.streaming.add(found.instrument_token);
  sendTokens('subscribe', [found.instrument_token]);
  subscriptionsStatus(`Subscribed ${found.tradingsymbol} (${found.instrument_token})`, 'ok');
  ui.subscribeInput.value = '';
}

/** @param {number} token */
async function unsubscribe(token) {
  const row = state.subscriptions.get(token);
  const name = row?.subscription.tradingsymbol ?? String(token);
  const response = await api('DELETE', `/subscriptions/${token}`);
  if (!response.ok && response.status !== 404) {
    subscriptionsStatus(`Unsubscribing ${name} failed: ${describeFailure(response)}`, 'error');
    return;
  }
  sendTokens('unsubscribe', [token]);
  state.streaming.delete(token);
  row?.row.remove();
  state.subscriptions.delete(token);
  for (const option of ui.orderSymbols.options) if (option.value === name) option.remove();
  const placed = state.chainCells.get(token);
  if (placed) for (const cell of Object.values(placed.cells)) cell.textContent = '—';
  state.latest.delete(token);
  subscriptionsStatus(`Unsubscribed ${name}`, 'ok');
}

// ---------------------------------------------------------------------------------------------
// Order ticket

const ORDER_STEPS = ['PENDING', 'RUNNING', 'COMPLETED'];

/** @param {string[]} seen statuses in the order they were observed */
function renderOrderSteps(seen) {
  const last = seen[seen.length - 1] ?? '';
  const reached = Math.max(...seen.map((s) => ORDER_STEPS.indexOf(s === 'RETRYING' ? 'RUNNING' : s)));
  ui.orderSteps.replaceChildren(
    ...ORDER_STEPS.map((step, i) => {
      const item = document.createElement('li');
      item.textContent = step;
      item.className = i < reached || (i === reached && last === 'COMPLETED') ? 'done' : i === reached ? 'current' : '';
      return item;
    }),
  );
  if (last === 'DEAD_LETTER' || seen.includes('RETRYING')) {
    const item = document.createElement('li');
    item.textContent = last === 'DEAD_LETTER' ? 'DEAD_LETTER' : 'RETRYING';
    item.className = last === 'DEAD_LETTER' ? 'failed' : 'current';
    ui.orderSteps.append(item);
  }
  ui.orderStatus.dataset.status = last;
}

/** @param {string} text @param {string} status */
function orderMessage(text, status) {
  ui.orderMessage.textContent = text;
  ui.orderStatus.dataset.status = status;
}

async function placeOrder() {
  const orderType = ui.orderType.value;
  const params = {
    variety: 'regular',
    exchange: ui.orderExchange.value,
    tradingsymbol: ui.orderSymbol.value.trim(),
    transaction_type: ui.orderSide.value,
    quantity: Number(ui.orderQuantity.value),
    product: ui.orderProduct.value,
    order_type: orderType,
    validity: 'DAY',
    tag: 'dashboard',
    ...(orderType === 'LIMIT' && { price: Number(ui.orderPrice.value) }),
  };
  const body = {
    operation: 'place_order',
    idempotency_key: crypto.randomUUID(),
    account_id: ui.orderAccount.value.trim(),
    params,
  };
  ui.orderSubmit.disabled = true;
  ui.orderSteps.replaceChildren();
  orderMessage('Sending…', 'SENDING');
  try {
    const response = await api('POST', '/orders', body);
    if (response.status !== 202) {
      orderMessage(`The order was not accepted: ${describeFailure(response)}`, 'ERROR');
      logEvent(`POST /orders: ${describeFailure(response)}`);
      return;
    }
    const accepted = /** @type {{ task_id: string, status: string, paper?: boolean }} */ (response.body);
    ui.orderMode.textContent = accepted.paper === false ? 'LIVE broker' : 'paper trading';
    logEvent(
      `Order ${accepted.task_id} accepted (${params.transaction_type} ${params.quantity} ${params.tradingsymbol})`,
    );
    await followOrder(accepted.task_id, [accepted.status]);
  } finally {
    ui.orderSubmit.disabled = false;
  }
}

/**
 * Polls the order's status record until it is final, showing each status as it is seen.
 * @param {string} taskId @param {string[]} seen
 */
async function followOrder(taskId, seen) {
  renderOrderSteps(seen);
  orderMessage(`Task ${taskId}: ${seen[seen.length - 1]}`, seen[seen.length - 1] ?? '');
  const deadline = Date.now() + ORDER_FOLLOW_MS;
  while (Date.now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, ORDER_POLL_MS));
    const response = await api('GET', `/orders/${encodeURIComponent(taskId)}`);
    if (!response.ok) {
      orderMessage(`Task ${taskId}: reading its status failed: ${describeFailure(response)}`, 'ERROR');
      return;
    }
    const { order } = /** @type {{ order: OrderStatus }} */ (response.body);
    if (order.status !== seen[seen.length - 1]) {
      seen.push(order.status);
      renderOrderSteps(seen);
    }
    if (order.status === 'COMPLETED' && order.result) {
      const price =
        order.result.average_price === undefined ? '' : ` at ${number.price.format(order.result.average_price)}`;
      orderMessage(
        `Task ${taskId}: COMPLETED, ${order.result.paper ? 'paper ' : ''}order ${order.result.order_id}${price}`,
        'COMPLETED',
      );
      logEvent(`Order ${taskId} completed: ${order.result.order_id}`);
      return;
    }
    if (FINAL_ORDER_STATUSES.has(order.status)) {
      orderMessage(`Task ${taskId}: ${order.status}${order.last_error ? `: ${order.last_error}` : ''}`, order.status);
      logEvent(`Order ${taskId}: ${order.status}`);
      return;
    }
    orderMessage(`Task ${taskId}: ${order.status}${order.last_error ? ` (${order.last_error})` : ''}`, order.status);
  }
  orderMessage(
    `Task ${taskId}: still ${seen[seen.length - 1]} after ${ORDER_FOLLOW_MS / 1000} s; stopped following`,
    'ERROR',
  );
}

/**
 * Puts a chain option on the ticket (its symbol, exchange and one lot).
 * @param {number} token
 */
async function ticketFor(token) {
  const tick = state.latest.get(token);
  if (tick) ui.orderSymbol.value = tick.tradingsymbol;
  const found = await instrument(token);
  if (!found) return;
  ui.orderSymbol.value = found.tradingsymbol;
  if ([...ui.orderExchange.options].some((o) => o.value === found.exchange)) ui.orderExchange.value = found.exchange;
  if (found.lot_size > 0) ui.orderQuantity.value = String(found.lot_size);
  if (tick && ui.orderType.value === 'LIMIT') ui.orderPrice.value = tick.last_price.toFixed(2);
}

// ---------------------------------------------------------------------------------------------
// Start

function wireControls() {
  ui.delivery.addEventListener('change', sendDelivery);
  ui.chainSelect.addEventListener('change', () => {
    state.chainChosen = true;
    selectChain(ui.chainSelect.value);
  });
  ui.subscribeForm.addEventListener('submit', (event) => {
    event.preventDefault();
    void subscribe(ui.subscribeInput.value);
  });
  ui.orderType.addEventListener('change', () => {
    ui.orderPrice.disabled = ui.orderType.value !== 'LIMIT';
    ui.orderPrice.required = !ui.orderPrice.disabled;
  });
  ui.orderForm.addEventListener('submit', (event) => {
    event.preventDefault();
    void placeOrder();
  });
  ui.chain.addEventListener('click', (event) => {
    const target = event.target instanceof Element ? event.target.closest('td[data-token]') : null;
    if (target instanceof HTMLElement && target.dataset.token) void ticketFor(Number(target.dataset.token));
  });
  setInterval(renderLatency, STATS_INTERVAL_MS);
}

/** Reads the page's token: from the platform when it hands one out, else from the user. */
async function obtainToken() {
  /** @type {DashboardConfig | null} */
  let config = null;
  try {
    const response = await fetch('/dashboard/config.json', { cache: 'no-store' });
    if (response.ok) config = /** @type {DashboardConfig} */ (await response.json());
  } catch {
    // The platform is not reachable: the token form below says what to do.
  }
  if (config?.ws_path) state.wsPath = config.ws_path;
  if (config?.token) return config.token;
  ui.tokenReason.textContent = config?.reason ?? 'The platform did not hand out a token: paste one.';
  ui.tokenForm.hidden = false;
  return new Promise((resolve) => {
    ui.tokenForm.addEventListener('submit', (event) => {
      event.preventDefault();
      ui.tokenForm.hidden = true;
      resolve(ui.tokenInput.value.trim());
    });
  });
}

/**
 * Whether the page's token is an admin's. The API is asked, not the token read: which claim names
 * the role is the platform's configuration, and the API is what enforces it. An admin-only read
 * answers 200 to an admin and 403 to anyone else.
 */
async function isAdmin() {
  return (await api('GET', '/orders/dead-letter?limit=1')).ok;
}

async function start() {
  wireControls();
  state.token = await obtainToken();
  state.admin = await isAdmin();
  // Subscribing pins an instrument for everyone: an admin's control, as deactivating is.
  ui.subscribeForm.hidden = !state.admin;
  document.body.dataset.role = state.admin ? 'admin' : 'user';

  const indexes = await api('GET', '/instruments?type=INDEX&limit=100');
  if (indexes.ok) {
    for (const index of /** @type {InstrumentListResponse} */ (indexes.body).instruments) {
      state.indexTokens.set(index.instrument_token, index.name);
      state.streaming.add(index.instrument_token);
      underlyingNamed(index.name, index.instrument_token);
    }
  } else {
    logEvent(`Index instruments: ${describeFailure(indexes)}`);
  }
  try {
    for (const subscription of await loadActiveSubscriptions()) {
      addSubscriptionRow(subscription);
      state.streaming.add(subscription.instrument_token);
    }
    subscriptionsStatus(`${state.subscriptions.size} active subscriptions`, '');
  } catch (error) {
    subscriptionsStatus(
      `Loading subscriptions failed: ${error instanceof Error ? error.message : String(error)}`,
      'error',
    );
  }
  connect();
}

void start();
