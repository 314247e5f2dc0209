import type { Schemas } from '../client/creditshop-client.js';
import type { SectionContext } from './account.js';
import { type Api, data, load } from './api.js';
import { actionButton } from './confirm.js';
import { badge, type Child, h, short, status, summary, table, when } from './dom.js';
import { allPages, pagedList } from './paged.js';

// Events and webhooks (issue 10): an account's events, where each went, and a redelivery; the
// webhook endpoints with their health and deliveries (admin).

const PAGE_SIZE = 10;
const DELIVERIES_PER_EVENT_MAX = 20;

type Endpoint = Schemas['WebhookEndpoint'];
type Delivery = Schemas['WebhookDelivery'];

const allEndpoints = (api: Api) =>
  allPages<Endpoint>((cursor) => data(api.GET('/v1/webhook-endpoints', { params: { query: { limit: 100, cursor } } })));

export function accountEvents({ api, session, account_id }: SectionContext): Child {
  return pagedList<Schemas['Event']>({
    fetch: (cursor) => data(api.GET('/v1/events', { params: { query: { account_id, limit: PAGE_SIZE, cursor } } })),
    render: (rows) =>
      rows.length === 0
        ? h('p', { class: 'empty' }, 'No events yet.')
        : h('div', {}, ...rows.map((event) => eventBlock(api, event, session.can('admin')))),
  });
}

/** One event; opened, what it carries and (admin) where it was delivered, with a redelivery to each enabled endpoint. */
function eventBlock(api: Api, event: Schemas['Event'], can_redeliver: boolean): Node {
  const body = h('div');
  const block = h(
    'details',
    { 'data-event-id': event.id },
    h('summary', {}, h('code', {}, event.type), ` · #${event.account_sequence ?? '—'} · ${when(event.created_at)} · `, short(event.id)),
    body,
  );
  const open = () =>
    load(body, async () =>
      h(
        'div',
        {},
        h('pre', { class: 'json' }, JSON.stringify(event.data, null, 2)),
        can_redeliver ? await eventDeliveries(api, event, () => void open()) : null,
      ),
    );
  block.addEventListener('toggle', () => {
    if (block.open && !body.hasChildNodes()) void open();
  });
  return block;
}

async function eventDeliveries(api: Api, event: Schemas['Event'], refresh: () => void): Promise<Node> {
  const endpoints = (await allEndpoints(api)).filter((endpoint) => endpoint.status !== 'deleted');
  const deliveries = await Promise.all(
    endpoints.map(async (endpoint) => {
      const page = await data(
        api.GET('/v1/webhook-endpoints/{id}/deliveries', {
          params: { path: { id: endpoint.id }, query: { event_id: event.id, limit: DELIVERIES_PER_EVENT_MAX } },
        }),
      );
      return page.data.map((delivery) => ({ endpoint, delivery }));
    }),
  );
  return h(
    'div',
    {},
    h('h3', { class: 'muted' }, 'Webhook deliveries'),
    table(
      deliveries.flat(),
      [['Endpoint', ({ endpoint }) => endpoint.url], ...deliveryColumns.map(([title, cell, kind]) => onDelivery(title, cell, kind))],
      'Sent to no endpoint.',
    ),
    h(
      'div',
      { class: 'row' },
      ...endpoints
        .filter((endpoint) => endpoint.status === 'enabled')
        .map((endpoint) => redeliverButton(api, event.id, event.type, endpoint, `Redeliver to ${endpoint.url}…`, refresh)),
    ),
  );
}

type Column<Row> = [string, (row: Row) => Child, 'num'?];
const onDelivery = (
  title: string,
  cell: (delivery: Delivery) => Child,
  kind?: 'num',
): Column<{ endpoint: Endpoint; delivery: Delivery }> => [title, ({ delivery }) => cell(delivery), kind];

/** A delivery's state and its latest answer: the status code, the latency, the error. */
const deliveryColumns: Array<Column<Delivery>> = [
  ['Status', (delivery) => status(delivery.status)],
  ['Attempts', (delivery) => delivery.attempts, 'num'],
  [
    'Last answer',
    (delivery) => {
      const last = delivery.attempt_log.at(-1);
      return last ? `${last.status_code ?? 'no answer'} in ${last.latency_ms} ms${last.error ? `: ${last.error}` : ''}` : '—';
    },
  ],
  ['Next attempt', (delivery) => when(delivery.next_attempt_at)],
  ['Delivered', (delivery) => when(delivery.delivered_at)],
  ['Asked for', (delivery) => (delivery.manual ? badge('redelivery', 'warn') : 'automatic')],
];

function redeliverButton(api: Api, event_id: string, event_type: string, endpoint: Endpoint, label: string, refresh: () => void): Node {
  return actionButton(
    api,
    label,
    () => ({
      title: 'Redeliver event',
      details: [
        ['Event', `${event_type} ${event_id}`],
        ['Endpoint', endpoint.url],
        ['Effect', 'sent once more, outside its account order: the receiver must treat an event id it has seen as done'],
      ],
      confirm_label: 'Redeliver',
      send: (client, key) =>
        data(
          client.POST('/v1/events/{id}/redeliver', {
            params: { path: { id: event_id }, header: { 'Idempotency-Key': key } },
            body: { endpoint_id: endpoint.id },
          }),
        ),
      done: (delivery) => `Delivery ${delivery.id} is ${delivery.status}.`,
    }),
    refresh,
  );
}

/** The webhook endpoints with their health; each opens on its deliveries, newest first (admin). */
export function webhooksPage(main: HTMLElement, api: Api): void {
  const endpoints = pagedList<Endpoint>({
    fetch: (cursor) => data(api.GET('/v1/webhook-endpoints', { params: { query: { limit: 20, cursor } } })),
    render: (rows) =>
      rows.length === 0
        ? h('p', { class: 'empty' }, 'No webhook endpoint is registered (POST /v1/webhook-endpoints).')
        : h('div', {}, ...rows.map((endpoint) => endpointBlock(api, endpoint))),
  });
  main.replaceChildren(h('h1', {}, 'Webhooks'), h('section', { class: 'card' }, endpoints));
}

function endpointBlock(api: Api, endpoint: Endpoint): Node {
  const body = h('div');
  const block = h(
    'details',
    { 'data-endpoint-id': endpoint.id },
    h(
      'summary',
      {},
      h('code', {}, endpoint.url),
      ' ',
      status(endpoint.status),
      endpoint.failing_since ? badge(`failing since ${when(endpoint.failing_since)}`, 'bad') : null,
      endpoint.description ? ` · ${endpoint.description}` : '',
    ),
    body,
  );
  block.addEventListener('toggle', () => {
    if (!block.open || body.hasChildNodes()) return;
    body.append(
      summary([
        ['Events', endpoint.enabled_events.join(', ')],
        ['Failure', endpoint.failure_reason ?? endpoint.disabled_reason ?? '—'],
        ['Signing secrets', `${endpoint.signing_secrets.length} (never shown here)`],
        ['Created', when(endpoint.created_at)],
      ]),
      h('h3', { class: 'muted' }, 'Deliveries'),
      endpointDeliveries(api, endpoint),
    );
  });
  return block;
}

function endpointDeliveries(api: Api, endpoint: Endpoint): Node {
  const list: HTMLElement = pagedList<Delivery>({
    filter: {
      label: 'Status',
      options: [
        ['', 'All'],
        ['pending', 'Pending'],
        ['delivered', 'Delivered'],
        ['failed', 'Failed'],
      ],
    },
    fetch: (cursor, state) =>
      data(
        api.GET('/v1/webhook-endpoints/{id}/deliveries', {
          params: {
            path: { id: endpoint.id },
            query: { limit: PAGE_SIZE, cursor, ...(state ? { status: state as Delivery['status'] } : {}) },
          },
        }),
      ),
    render: (rows) =>
      table(
        rows,
        [
          ['Event', (delivery) => h('span', {}, h('code', {}, delivery.event_type), ' ', short(delivery.event_id))],
          [
            'Account',
            (delivery) =>
              delivery.account_id ? h('a', { href: `#/accounts/${encodeURIComponent(delivery.account_id)}` }, delivery.account_id) : '—',
          ],
          ...deliveryColumns,
          [
            '',
            (delivery) =>
              endpoint.status === 'enabled'
                ? redeliverButton(api, delivery.event_id, delivery.event_type, endpoint, 'Redeliver…', () =>
                    list.replaceWith(endpointDeliveries(api, endpoint)),
                  )
                : null,
          ],
        ],
        'No deliveries yet (the newest show once settled, a few seconds after they are made).',
      ),
  });
  return list;
}
