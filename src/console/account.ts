import type { Currency, Schemas } from '../client/creditshop-client.js';
import { type Api, data, load } from './api.js';
import { actionButton, confirmAction } from './confirm.js';
import { accountEvents } from './event-sections.js';
import { configuredCurrencies } from './currencies.js';
import { badge, type Child, h, money, short, show, status, summary, table, when } from './dom.js';
import { pagedList } from './paged.js';
import type { Capability, Session } from './session.js';
import { accountStatus, limits, withdrawals } from './wallet-sections.js';

const PAGE_SIZE = 10;

export interface SectionContext {
  api: Api;
  session: Session;
  account_id: string;
  /** Shows the account again, every section reloaded (after an action changed it). */
  refresh(): void;
}

/**
 * One section of the account page. Adding one (withdrawals, limits, events, ...) is one entry in
 * ACCOUNT_SECTIONS: the page shows it to tokens with `needs`, each section loading on its own.
 */
export interface Section {
  id: string;
  title: string;
  needs: Capability;
  render(context: SectionContext): Child;
}

function wallets({ api, session, account_id, refresh }: SectionContext): Child {
  const box = h('div');
  void load(box, async () => {
    const [account, currencies] = await Promise.all([
      data(api.GET('/v1/accounts/{id}', { params: { path: { id: account_id } } })),
      session.can('credit') ? configuredCurrencies(api) : undefined,
    ]);
    return h(
      'div',
      {},
      summary([
        ['Account', h('code', {}, account.id)],
        ['Kind', account.kind],
        ['Home region', account.home_region],
        ['Created', when(account.created_at)],
      ]),
      table(
        account.wallets,
        [
          ['Currency', (wallet) => wallet.currency],
          ['Balance', (wallet) => money(wallet.balance), 'num'],
          ['Held', (wallet) => money(wallet.held), 'num'],
          ['Available', (wallet) => money(wallet.available), 'num'],
        ],
        'No wallets yet.',
      ),
      session.can('credit') ? goodwillForm(api, account, currencies, refresh) : null,
    );
  });
  return box;
}

/** The configured currencies to pick from, or free text when the pod does not list them. */
function currencyField(currencies: string[] | undefined, preferred: string): HTMLInputElement | HTMLSelectElement {
  if (!currencies) return h('input', { name: 'currency', required: true, value: preferred, size: 6, pattern: '[A-Z][A-Z0-9]{2,9}' });
  return h(
    'select',
    { name: 'currency', required: true },
    ...currencies.map((currency) => h('option', { value: currency, selected: currency === preferred }, currency)),
  );
}

function goodwillForm(api: Api, account: Schemas['Account'], currencies: string[] | undefined, refresh: () => void): Node {
  const currency = currencyField(currencies, account.wallets[0]?.currency ?? currencies?.[0] ?? 'EUR');
  const amount = h('input', { name: 'amount', type: 'number', min: 1, step: 1, required: true, size: 8 });
  const reason = h('input', { name: 'reason', required: true, maxlength: 200, size: 28 });
  const form = h(
    'form',
    { 'aria-label': 'Goodwill credit' },
    h(
      'div',
      { class: 'row' },
      h('label', {}, 'Currency', currency),
      h('label', {}, 'Amount (minor units)', amount),
      h('label', {}, 'Reason', reason),
      h('button', { type: 'submit' }, 'Review credit…'),
    ),
  );
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    const body = { amount: Number(amount.value), currency: currency.value as Currency, reason: reason.value };
    confirmAction(
      api,
      {
        title: 'Goodwill credit',
        details: [
          ['Account', account.id],
          ['Credit', money(body.amount, body.currency)],
          ['Reason', body.reason],
        ],
        confirm_label: 'Credit the wallet',
        send: (client, key) =>
          data(
            client.POST('/v1/accounts/{id}/credits', { params: { path: { id: account.id }, header: { 'Idempotency-Key': key } }, body }),
          ),
        done: (posted) => `Credited: transaction ${posted.id}.`,
      },
      refresh,
    );
  });
  return h('details', {}, h('summary', {}, 'Goodwill credit'), form);
}

function history({ api, account_id }: SectionContext): Child {
  const box = h('div');
  void load(box, async () => {
    const currencies = await configuredCurrencies(api);
    return pagedList<Schemas['HistoryEntry']>({
      ...(currencies
        ? { filter: { label: 'Currency', options: [['', 'All currencies'], ...currencies.map((c): [string, string] => [c, c])] } }
        : {}),
      fetch: (cursor, currency) =>
        data(
          api.GET('/v1/accounts/{id}/transactions', {
            params: {
              path: { id: account_id },
              query: { limit: PAGE_SIZE, cursor, ...(currency ? { currency: currency as Currency } : {}) },
            },
          }),
        ),
      render: (rows) =>
        table(
          rows,
          [
            ['When', (entry) => when(entry.created_at)],
            ['Type', (entry) => entry.type],
            ['Amount', (entry) => money(entry.amount, entry.currency), 'num'],
            ['Balance after', (entry) => money(entry.balance_after), 'num'],
            ['Reason', (entry) => entry.reason ?? ''],
            ['Transaction', (entry) => short(entry.transaction_id)],
          ],
          'No history yet.',
        ),
    });
  });
  return box;
}

function orders({ api, session, account_id, refresh }: SectionContext): Child {
  return pagedList<Schemas['Order']>({
    fetch: (cursor) =>
      data(api.GET('/v1/accounts/{id}/orders', { params: { path: { id: account_id }, query: { limit: PAGE_SIZE, cursor } } })),
    render: (rows) =>
      rows.length === 0
        ? h('p', { class: 'empty' }, 'No orders yet.')
        : h('div', {}, ...rows.map((order) => orderBlock(api, order, session.can('refund'), refresh))),
  });
}

function orderBlock(api: Api, order: Schemas['Order'], can_refund: boolean, refresh: () => void): Node {
  const refundable = can_refund && (order.status === 'COMPLETED' || order.status === 'PARTIALLY_REFUNDED');
  return h(
    'article',
    { class: 'order', 'data-order-id': order.id, 'aria-label': `Order ${order.id}` },
    h(
      'p',
      {},
      h('strong', {}, 'Order '),
      short(order.id),
      ' ',
      status(order.status),
      ` ${order.mode} · total ${money(order.total, order.currency)}`,
      ` · refunded ${money(order.refunded_amount, order.currency)} · ${when(order.created_at)}`,
    ),
    table(
      order.lines,
      [
        ['Item', (line) => `${line.name} (${line.item_id})`],
        ['Kind', (line) => line.kind],
        ['Quantity', (line) => line.quantity, 'num'],
        ['Unit price', (line) => money(line.unit_price), 'num'],
        ['Refunded', (line) => line.refunded_quantity, 'num'],
        ['Grants', (line) => (line.grants ? money(line.grants.amount, line.grants.currency) : '—')],
      ],
      'No lines.',
    ),
    refundable ? refundForm(api, order, refresh) : null,
  );
}

function refundForm(api: Api, order: Schemas['Order'], refresh: () => void): Node {
  const quantities = order.lines.map((line) => ({
    line,
    input: h('input', { type: 'number', min: 0, max: line.quantity - line.refunded_quantity, step: 1, value: 0, size: 4 }),
  }));
  const reason = h('input', { name: 'reason', required: true, maxlength: 200, size: 28 });
  const override = h('input', { type: 'checkbox', name: 'override_policy' });
  const form = h(
    'form',
    { 'aria-label': `Refund lines of order ${order.id}` },
    h(
      'div',
      { class: 'row' },
      ...quantities.map(({ line, input }) => h('label', {}, `${line.name}: quantity to refund`, input)),
      h('label', {}, 'Reason (required)', reason),
      h('label', { class: 'inline' }, override, 'Override the item policy (recorded with the refund)'),
      h('button', { type: 'submit' }, 'Review refund…'),
    ),
  );
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    const lines = quantities
      .map(({ line, input }) => ({ item_id: line.item_id, quantity: Number(input.value) }))
      .filter((line) => line.quantity > 0);
    const body = { lines, reason: reason.value, ...(override.checked ? { override_policy: true } : {}) };
    confirmAction(
      api,
      {
        title: 'Refund order lines',
        details: [
          ['Order', order.id],
          ['Lines', lines.length ? lines.map((line) => `${line.quantity} × ${line.item_id}`).join(', ') : 'everything left'],
          ['Reason', body.reason],
          ['Policy', override.checked ? 'OVERRIDDEN (recorded as you)' : 'applied'],
          ['Effect', 'the money goes back to the wallet; the entitlements of refunded lines are revoked'],
        ],
        confirm_label: 'Refund',
        danger: true,
        send: (client, key) =>
          data(
            client.POST('/v1/orders/{id}/refunds', {
              params: { path: { id: order.id }, header: { 'Idempotency-Key': key } },
              body: lines.length ? body : { reason: body.reason, ...(override.checked ? { override_policy: true } : {}) },
            }),
          ),
        done: (refund) => `Refunded ${money(refund.amount, order.currency)}: refund ${refund.id}.`,
      },
      refresh,
    );
  });
  return h('details', {}, h('summary', {}, 'Refund lines'), form);
}

function entitlements({ api, account_id }: SectionContext): Child {
  return pagedList<Schemas['Entitlement']>({
    filter: {
      label: 'Status',
      options: [
        ['', 'All'],
        ['ACTIVE', 'Active'],
        ['REVOKED', 'Revoked'],
      ],
    },
    fetch: (cursor, state) =>
      data(
        api.GET('/v1/accounts/{id}/entitlements', {
          params: {
            path: { id: account_id },
            query: { limit: PAGE_SIZE, cursor, ...(state ? { status: state as 'ACTIVE' | 'REVOKED' } : {}) },
          },
        }),
      ),
    render: (rows) =>
      table(
        rows,
        [
          ['Item', (entitlement) => entitlement.item_id],
          ['Status', (entitlement) => status(entitlement.status)],
          ['Quantity', (entitlement) => `${entitlement.quantity} of ${entitlement.quantity_granted}`, 'num'],
          ['Order', (entitlement) => short(entitlement.order_id)],
          ['Granted', (entitlement) => when(entitlement.granted_at)],
          ['Revoked', (entitlement) => when(entitlement.revoked_at)],
        ],
        'No entitlements.',
      ),
  });
}

function holds({ api, session, account_id, refresh }: SectionContext): Child {
  const voidButton = (hold: Schemas['Hold']) =>
    actionButton(
      api,
      'Void…',
      () => ({
        title: 'Void hold',
        details: [
          ['Hold', hold.id],
          ['Amount', money(hold.amount, hold.currency)],
          ['Effect', 'nothing is charged; the held money is available again'],
        ],
        confirm_label: 'Void the hold',
        danger: true,
        send: (client, key) =>
          data(client.POST('/v1/holds/{id}/void', { params: { path: { id: hold.id }, header: { 'Idempotency-Key': key } }, body: {} })),
        done: (voided) => `Hold ${voided.id} is ${voided.status}.`,
      }),
      refresh,
    );
  return pagedList<Schemas['Hold']>({
    filter: {
      label: 'Status',
      options: [
        ['', 'All'],
        ['ACTIVE', 'Active'],
        ['CAPTURED', 'Captured'],
        ['VOIDED', 'Voided'],
        ['EXPIRED', 'Expired'],
      ],
    },
    fetch: (cursor, state) =>
      data(
        api.GET('/v1/accounts/{id}/holds', {
          params: {
            path: { id: account_id },
            query: { limit: PAGE_SIZE, cursor, ...(state ? { status: state as Schemas['Hold']['status'] } : {}) },
          },
        }),
      ),
    render: (rows) =>
      table(
        rows,
        [
          ['Hold', (hold) => short(hold.id)],
          ['Status', (hold) => status(hold.status)],
          ['Amount', (hold) => money(hold.amount, hold.currency), 'num'],
          ['Captured', (hold) => money(hold.captured_amount), 'num'],
          ['Settled by', (hold) => hold.owner],
          ['Expires', (hold) => when(hold.expires_at)],
          ['', (hold) => (session.can('void_hold') && hold.status === 'ACTIVE' && hold.owner === 'api' ? voidButton(hold) : null)],
        ],
        'No holds.',
      ),
  });
}

function topups({ api, account_id }: SectionContext): Child {
  return pagedList<Schemas['Topup']>({
    fetch: (cursor) =>
      data(api.GET('/v1/accounts/{id}/topups', { params: { path: { id: account_id }, query: { limit: PAGE_SIZE, cursor } } })),
    render: (rows) =>
      table(
        rows,
        [
          ['Top-up', (topup) => short(topup.id)],
          ['Status', (topup) => status(topup.status)],
          ['Amount', (topup) => money(topup.amount, topup.currency), 'num'],
          ['Reversed', (topup) => money(topup.reversed_amount), 'num'],
          ['Unrecovered', (topup) => money(topup.unrecovered_amount), 'num'],
          [
            'Review',
            (topup) =>
              topup.review_reason
                ? badge(topup.review_reason, 'warn')
                : topup.needs_reconciliation
                  ? badge('needs reconciliation', 'warn')
                  : '—',
          ],
          ['Events', (topup) => topup.events.map((event) => `${event.type} → ${event.outcome}`).join(', ') || '—'],
          ['Created', (topup) => when(topup.created_at)],
        ],
        'No top-ups.',
      ),
  });
}

function purchaseRequests({ api, account_id }: SectionContext): Child {
  return pagedList<Schemas['PurchaseRequest']>({
    fetch: (cursor) =>
      data(api.GET('/v1/accounts/{id}/purchase-requests', { params: { path: { id: account_id }, query: { limit: PAGE_SIZE, cursor } } })),
    render: (rows) =>
      rows.length === 0 ? h('p', { class: 'empty' }, 'No purchase requests.') : h('div', {}, ...rows.map(purchaseRequestBlock)),
  });
}

export function purchaseRequestBlock(request: Schemas['PurchaseRequest']): Node {
  return h(
    'details',
    { 'data-purchase-request-id': request.id },
    h(
      'summary',
      {},
      `${request.product_id} · max ${money(request.max_price, request.currency)} · `,
      status(request.status),
      request.needs_review ? badge(`review: ${request.review_reason ?? ''}`, 'warn') : null,
      request.final_price ? ` · paid ${money(request.final_price, request.currency)} to ${request.seller_id}` : '',
      ` · ${when(request.created_at)}`,
    ),
    request.reason ? h('p', {}, 'Reason: ', request.reason) : null,
    h('h3', { class: 'muted' }, 'Quotes'),
    table(
      request.quotes,
      [
        ['Seller', (quote) => quote.seller_id],
        ['Available', (quote) => (quote.available === null ? '—' : quote.available ? 'yes' : 'no')],
        ['Price', (quote) => money(quote.price, quote.currency), 'num'],
        ['Latency ms', (quote) => quote.latency_ms ?? '—', 'num'],
        ['Error', (quote) => quote.error ?? ''],
      ],
      'No quotes.',
    ),
    h('h3', { class: 'muted' }, 'Attempts'),
    table(
      request.attempts,
      [
        ['#', (attempt) => attempt.position, 'num'],
        ['Seller', (attempt) => attempt.seller_id],
        ['State', (attempt) => attempt.state],
        ['Outcome', (attempt) => attempt.outcome ?? '—'],
        ['Price', (attempt) => money(attempt.price), 'num'],
        ['Detail', (attempt) => attempt.detail ?? ''],
      ],
      'No attempts.',
    ),
  );
}

export const ACCOUNT_SECTIONS: Section[] = [
  { id: 'wallets', title: 'Wallets', needs: 'read_accounts', render: wallets },
  { id: 'status', title: 'Status', needs: 'read_accounts', render: accountStatus },
  { id: 'limits', title: 'KYC limits and usage', needs: 'read_accounts', render: limits },
  { id: 'history', title: 'History', needs: 'read_money', render: history },
  { id: 'orders', title: 'Orders', needs: 'read_money', render: orders },
  { id: 'entitlements', title: 'Entitlements', needs: 'read_money', render: entitlements },
  { id: 'holds', title: 'Holds', needs: 'read_money', render: holds },
  { id: 'topups', title: 'Top-ups', needs: 'read_money', render: topups },
  { id: 'purchase-requests', title: 'Purchase requests', needs: 'read_money', render: purchaseRequests },
  { id: 'withdrawals', title: 'Withdrawals', needs: 'read_money', render: withdrawals },
  { id: 'events', title: 'Events and webhook deliveries', needs: 'read_events', render: accountEvents },
];

/** The account page: every section the token may read, each loading on its own. */
export function accountPage(main: HTMLElement, api: Api, session: Session, account_id: string): void {
  const render = () => {
    const context: SectionContext = { api, session, account_id, refresh: render };
    const sections = ACCOUNT_SECTIONS.filter((section) => session.can(section.needs));
    main.replaceChildren(
      h('h1', {}, 'Account ', h('code', {}, account_id)),
      ...sections.map((section) => {
        const body = h('div', {}, section.render(context));
        const reload = h('button', { type: 'button', class: 'secondary', 'aria-label': `Reload ${section.title}` }, 'Reload');
        reload.addEventListener('click', () => show(body, section.render(context)));
        return h(
          'section',
          { class: 'card', id: `section-${section.id}`, 'aria-labelledby': `title-${section.id}` },
          h('div', { class: 'row' }, h('h2', { id: `title-${section.id}` }, section.title), reload),
          body,
        );
      }),
    );
  };
  render();
}
