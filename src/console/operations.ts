import type { Schemas } from '../client/creditshop-client.js';
import { purchaseRequestBlock } from './account.js';
import { type Api, data, load } from './api.js';
import { confirmAction } from './confirm.js';
import { badge, h, money, status, table, when } from './dom.js';
import { allPages, pagedList } from './paged.js';

const SELLERS_REFRESH_MS = 5_000;

/** Reconciliation: run it on demand, show whether it is clean and every mismatch. */
export function reconciliationPage(main: HTMLElement, api: Api): void {
  const result = h('div', { 'aria-live': 'polite' }, h('p', { class: 'empty' }, 'Not run yet in this session.'));
  const run = h('button', { type: 'button' }, 'Run reconciliation');
  run.addEventListener('click', async () => {
    run.disabled = true;
    await load(result, async () => {
      const report = await data(api.POST('/v1/admin/reconcile'));
      const columns = new Set(report.mismatches.flatMap((mismatch) => Object.keys(mismatch)));
      columns.delete('check');
      return h(
        'div',
        {},
        h(
          'p',
          {},
          report.ok ? badge('clean', 'good') : badge(`${report.mismatches.length} mismatches`, 'bad'),
          ` at ${when(new Date().toISOString())}`,
        ),
        table(
          report.mismatches,
          [
            ['Check', (mismatch: Schemas['Mismatch']) => h('code', {}, mismatch.check)],
            ...[...columns].map((column): [string, (mismatch: Schemas['Mismatch']) => string] => [
              column,
              (mismatch) => String(mismatch[column] ?? ''),
            ]),
          ],
          'No mismatches: every invariant holds.',
        ),
      );
    });
    run.disabled = false;
  });
  main.replaceChildren(
    h('h1', {}, 'Reconciliation'),
    h(
      'section',
      { class: 'card' },
      h('p', { class: 'muted' }, 'Checks the ledger invariants over the whole database (admin).'),
      run,
      result,
    ),
  );
}

const allSellers = (api: Api) =>
  allPages<Schemas['Seller']>((cursor) => data(api.GET('/v1/sellers', { params: { query: { limit: 100, cursor } } })));

const circuitTone = (state: string) => (state === 'closed' ? 'good' : state === 'open' ? 'bad' : 'warn');

/** Seller health, refreshed every few seconds while the page is open. */
export function sellersPage(main: HTMLElement, api: Api): () => void {
  const body = h('div', { 'aria-live': 'polite' });
  const refresh = () =>
    load(body, async () =>
      table(
        await allSellers(api),
        [
          ['Seller', (seller) => h('span', { 'data-seller-id': seller.id }, seller.id)],
          ['Active', (seller) => (seller.active ? 'yes' : 'no')],
          ['Circuit', (seller) => (seller.health ? badge(seller.health.circuit_state, circuitTone(seller.health.circuit_state)) : '—')],
          [
            'Error rate',
            (seller) => (seller.health ? `${(seller.health.recent_error_rate * 100).toFixed(0)}% of ${seller.health.recent_calls}` : '—'),
            'num',
          ],
          ['Latency avg ms', (seller) => seller.health?.latency_ms_avg?.toFixed(0) ?? '—', 'num'],
          [
            'Calls in window',
            (seller) => (seller.health ? `${seller.health.calls_in_current_window} / ${seller.rate_limit_per_minute}` : '—'),
            'num',
          ],
          ['Probe after', (seller) => when(seller.health?.circuit_probe_after)],
          ['Last error', (seller) => seller.health?.last_error ?? ''],
        ],
        'No sellers registered.',
      ),
    );
  void refresh();
  const timer = setInterval(() => void refresh(), SELLERS_REFRESH_MS);
  main.replaceChildren(
    h('h1', {}, 'Seller health'),
    h(
      'section',
      { class: 'card' },
      h(
        'p',
        { class: 'muted' },
        `Circuit state, recent error rate and latency, calls in the current rate window; refreshed every ${SELLERS_REFRESH_MS / 1000} s.`,
      ),
      body,
    ),
  );
  return () => clearInterval(timer);
}

/** What waits for a person: PSP events held for review, purchase requests kept for review. */
export function reviewPage(main: HTMLElement, api: Api): void {
  const events = pagedList<Schemas['HeldPspEvent']>({
    fetch: (cursor) => data(api.GET('/v1/admin/review/psp-events', { params: { query: { limit: 20, cursor } } })),
    render: (rows) =>
      table(
        rows,
        [
          ['Event', (event) => h('code', {}, event.event_id)],
          ['Outcome', (event) => badge(event.outcome, 'warn')],
          ['Reason', (event) => event.reason ?? ''],
          ['Top-up', (event) => (event.topup_id ? h('code', {}, event.topup_id) : '—')],
          ['Received', (event) => when(event.received_at)],
        ],
        'No PSP event is held for review.',
      ),
  });
  const requests = pagedList<Schemas['PurchaseRequest']>({
    fetch: (cursor) => data(api.GET('/v1/admin/review/purchase-requests', { params: { query: { limit: 20, cursor } } })),
    render: (rows) =>
      rows.length === 0
        ? h('p', { class: 'empty' }, 'No purchase request is kept for review.')
        : h(
            'div',
            {},
            ...rows.map((request) =>
              h(
                'div',
                {},
                h('a', { href: `#/accounts/${encodeURIComponent(request.account_id)}` }, request.account_id),
                ' ',
                purchaseRequestBlock(request),
              ),
            ),
          ),
  });
  main.replaceChildren(
    h('h1', {}, 'Held for review'),
    h('section', { class: 'card' }, h('h2', {}, 'Top-ups: PSP events held for review'), events),
    h('section', { class: 'card' }, h('h2', {}, 'Purchase requests kept for review'), requests),
  );
}

/** The AML review queue: operations a velocity limit refused; a person looks into each and resolves it with a note. */
export function reviewFlagsPage(main: HTMLElement, api: Api): void {
  const flags = pagedList<Schemas['ReviewFlag']>({
    filter: {
      label: 'Status',
      options: [
        ['open', 'Open'],
        ['resolved', 'Resolved'],
        ['', 'All'],
      ],
    },
    fetch: (cursor, state) =>
      data(
        api.GET('/v1/admin/review-flags', {
          params: { query: { limit: 20, cursor, ...(state ? { status: state as Schemas['ReviewFlag']['status'] } : {}) } },
        }),
      ),
    render: (rows) =>
      table(
        rows,
        [
          ['Account', (flag) => h('a', { href: `#/accounts/${encodeURIComponent(flag.account_id)}` }, flag.account_id)],
          ['Refused', (flag) => `${flag.operation} of ${money(flag.attempted, flag.currency)}`],
          ['Limit', (flag) => h('code', {}, flag.limit)],
          ['Used / limit', (flag) => `${money(flag.used)} / ${money(flag.limit_value)}`, 'num'],
          ['Window from', (flag) => when(flag.window_start)],
          ['Flagged', (flag) => when(flag.created_at)],
          ['Status', (flag) => status(flag.status)],
          [
            'Resolution',
            (flag) => (flag.status === 'resolved' ? `${flag.resolution ?? ''} (${flag.resolved_by ?? ''})` : resolveForm(api, flag)),
          ],
        ],
        'No review flag here.',
      ),
  });
  main.replaceChildren(
    h('h1', {}, 'AML review flags'),
    h(
      'section',
      { class: 'card' },
      h('p', { class: 'muted' }, 'Operations refused by a velocity limit (daily sums, hourly counts), newest first.'),
      flags,
    ),
  );
}

function resolveForm(api: Api, flag: Schemas['ReviewFlag']): Node {
  const note = h('input', { name: 'resolution', required: true, maxlength: 1000, size: 24, 'aria-label': `Note for flag ${flag.id}` });
  const form = h('form', { class: 'row', 'data-flag-id': flag.id }, note, h('button', { type: 'submit', class: 'secondary' }, 'Resolve…'));
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    confirmAction(
      api,
      {
        title: 'Resolve AML review flag',
        details: [
          ['Account', flag.account_id],
          ['Refused', `${flag.operation} of ${money(flag.attempted, flag.currency)} (${flag.limit})`],
          ['Note', note.value],
        ],
        confirm_label: 'Resolve',
        idempotent: false,
        send: (client) =>
          data(
            client.PUT('/v1/admin/review-flags/{id}/resolution', { params: { path: { id: flag.id } }, body: { resolution: note.value } }),
          ),
        done: (resolved) => `Flag resolved by ${resolved.resolved_by ?? 'you'}.`,
      },
      () => form.replaceWith(`${note.value} (resolved)`),
    );
  });
  return form;
}
