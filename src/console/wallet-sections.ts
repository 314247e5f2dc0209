import type { Schemas } from '../client/creditshop-client.js';
import type { SectionContext } from './account.js';
import { type Api, data, load } from './api.js';
import { confirmAction } from './confirm.js';
import { badge, type Child, h, money, short, status, summary, table, when } from './dom.js';
import { pagedList } from './paged.js';

// The account page's sections of the wallet (issue 11): withdrawals with their payout callbacks,
// KYC limits with what is used of them, and the account's status with who changed it.

const PAGE_SIZE = 10;
const TIERS: Array<[number, string]> = [
  [0, '0 · unverified'],
  [1, '1 · basic'],
  [2, '2 · full'],
];
const tierName = (tier: number) => TIERS.find(([value]) => value === tier)?.[1] ?? String(tier);

export function withdrawals({ api, session, account_id, refresh }: SectionContext): Child {
  const settles = session.can('admin') ? refresh : undefined;
  return pagedList<Schemas['Withdrawal']>({
    fetch: (cursor) =>
      data(api.GET('/v1/accounts/{id}/withdrawals', { params: { path: { id: account_id }, query: { limit: PAGE_SIZE, cursor } } })),
    render: (rows) =>
      rows.length === 0
        ? h('p', { class: 'empty' }, 'No withdrawals.')
        : h('div', {}, ...rows.map((withdrawal) => withdrawalBlock(api, withdrawal, settles))),
  });
}

/**
 * One withdrawal of the list; opened, the withdrawal as GET /v1/withdrawals/{id} shows it: the list
 * leaves out the provider's callbacks and what is held for review. `settled`: an admin may settle
 * it by hand once it is flagged, and the account is shown again after.
 */
function withdrawalBlock(api: Api, listed: Schemas['Withdrawal'], settled?: () => void): Node {
  const body = h('div');
  const block = h(
    'details',
    { 'data-withdrawal-id': listed.id },
    h(
      'summary',
      {},
      `${money(listed.amount, listed.currency)} to ${listed.destination.type} ${listed.destination.reference} · `,
      status(listed.status),
      listed.needs_reconciliation ? badge('needs reconciliation', 'warn') : null,
      listed.review_reason ? badge(`review: ${listed.review_reason}`, 'warn') : null,
      ` · ${when(listed.created_at)}`,
    ),
    body,
  );
  block.addEventListener('toggle', () => {
    if (block.open && !body.hasChildNodes())
      void load(body, async () => {
        const withdrawal = await data(api.GET('/v1/withdrawals/{id}', { params: { path: { id: listed.id } } }));
        const flagged = withdrawal.status === 'PENDING' && withdrawal.needs_reconciliation;
        return h('div', {}, withdrawalDetail(withdrawal), flagged && settled ? settleForm(api, withdrawal, settled) : null);
      });
  });
  return block;
}

/**
 * Settling by hand a withdrawal the provider left unanswered, once the provider said what became of
 * it (POST /v1/withdrawals/{id}/settle): the API refuses it while its payout job may still call.
 */
function settleForm(api: Api, withdrawal: Schemas['Withdrawal'], settled: () => void): Node {
  // No default: settling FAILED a withdrawal the provider did pay pays the player twice.
  const outcome = h(
    'select',
    { name: 'status', required: true },
    h('option', { value: '' }, 'choose what the provider says…'),
    h('option', { value: 'FAILED' }, 'FAILED: the money goes back to the wallet'),
    h('option', { value: 'PAID' }, 'PAID: the provider paid it out'),
  );
  const note = h('input', { name: 'settlement', required: true, maxlength: 1000, size: 36 });
  const form = h(
    'form',
    { 'aria-label': 'Settle the withdrawal by hand' },
    h(
      'div',
      { class: 'row' },
      h('label', {}, 'The provider says', outcome),
      h('label', {}, 'How you know (required)', note),
      h('button', { type: 'submit', class: 'danger' }, 'Review settlement…'),
    ),
  );
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    const body = { status: outcome.value as 'PAID' | 'FAILED', settlement: note.value };
    confirmAction(
      api,
      {
        title: 'Settle the withdrawal by hand',
        details: [
          ['Withdrawal', h('code', {}, withdrawal.id)],
          ['Amount', money(withdrawal.amount, withdrawal.currency)],
          ['Settled as', body.status],
          ['Note', body.settlement],
          [
            'Effect',
            body.status === 'PAID'
              ? 'the money leaves @payouts_pending for @payouts, as a payout.paid callback would'
              : 'the money goes back to the wallet, as a payout.failed callback would; a later payout.paid is held for review',
          ],
        ],
        confirm_label: `Settle it ${body.status}`,
        danger: true,
        send: (client, key) =>
          data(
            client.POST('/v1/withdrawals/{id}/settle', {
              params: { path: { id: withdrawal.id }, header: { 'Idempotency-Key': key } },
              body,
            }),
          ),
        done: (result) => `Withdrawal ${result.id} is ${result.status}.`,
      },
      settled,
    );
  });
  return h('details', { open: true }, h('summary', {}, 'Settle by hand'), form);
}

function withdrawalDetail(withdrawal: Schemas['Withdrawal']): Node {
  return h(
    'div',
    {},
    summary([
      ['Withdrawal', h('code', {}, withdrawal.id)],
      ['Payout', withdrawal.payout_id ? h('code', {}, withdrawal.payout_id) : 'not accepted by the provider yet'],
      ['Provider said', withdrawal.provider_status ?? '—'],
      ['Failure', withdrawal.failure_reason ?? '—'],
      ['Debit', short(withdrawal.debit_transaction_id)],
      ['Settlement', short(withdrawal.settlement_transaction_id)],
      ['Settled', when(withdrawal.settled_at)],
    ]),
    h('h3', { class: 'muted' }, 'States'),
    table(
      withdrawal.status_history,
      [
        ['State', (entry) => status(entry.status)],
        ['Reason', (entry) => entry.reason ?? ''],
        ['At', (entry) => when(entry.at)],
      ],
      'No states.',
    ),
    h('h3', { class: 'muted' }, 'Payout callbacks'),
    table(
      withdrawal.events,
      [
        ['Event', (event) => h('code', {}, event.id)],
        ['Type', (event) => event.type],
        ['Outcome', (event) => event.outcome],
        ['Received', (event) => when(event.received_at)],
      ],
      'No callback from the provider yet.',
    ),
    withdrawal.review.length
      ? table(
          withdrawal.review,
          [
            ['Held for review', (held) => h('code', {}, held.event_id)],
            ['Reason', (held) => held.reason ?? ''],
            ['Settled', (held) => (held.settled_at ? `${when(held.settled_at)}: ${held.settlement ?? ''}` : badge('open', 'warn'))],
          ],
          '',
        )
      : null,
  );
}

type LimitName = keyof Schemas['AccountLimits']['limits'];
type Usage = Schemas['AccountLimits']['usage'][number];

/** The limits with a window: what is used of each in the current UTC day or hour, and when that resets. */
const WINDOWED: Array<[keyof Usage['remaining'], (usage: Usage) => number | null, (usage: Usage) => string | null]> = [
  ['daily_debits_max_minor', (usage) => usage.debits_today, (usage) => usage.day_resets_at],
  ['daily_transfers_out_max_minor', (usage) => usage.transfers_out_today, (usage) => usage.day_resets_at],
  ['daily_withdrawals_max_minor', (usage) => usage.withdrawals_today, (usage) => usage.day_resets_at],
  ['transfers_out_per_hour_max', (usage) => usage.transfers_out_this_hour, (usage) => usage.hour_resets_at],
  ['balance_max_minor', () => null, () => null],
];

const limitValue = (value: number | boolean) => (typeof value === 'boolean' ? (value ? 'yes' : 'no') : money(value));

export function limits({ api, session, account_id, refresh }: SectionContext): Child {
  const box = h('div');
  void load(box, async () => {
    const view = await data(api.GET('/v1/accounts/{id}/limits', { params: { path: { id: account_id } } }));
    const names = Object.keys(view.limits) as LimitName[];
    return h(
      'div',
      {},
      summary([
        ['KYC tier', tierName(view.kyc_tier)],
        ['Limits apply', view.limits_apply ? 'yes' : 'no (a merchant, or KYC limits are off in this deployment)'],
        ['Limited currencies', view.limited_currencies.join(', ') || '—'],
      ]),
      table(
        names,
        [
          ['Limit', (name) => h('code', {}, name)],
          ['Value', (name) => limitValue(view.limits[name].value), 'num'],
          ['From', (name) => (view.limits[name].source === 'override' ? badge('override', 'warn') : 'tier')],
        ],
        'No limits.',
      ),
      ...view.usage.map((usage) =>
        h(
          'div',
          { 'data-usage-currency': usage.currency },
          h('h3', { class: 'muted' }, `Used in ${usage.currency}`),
          table(
            WINDOWED,
            [
              ['Limit', ([name]) => h('code', {}, name)],
              ['Used', ([, used]) => money(used(usage)), 'num'],
              ['Remaining', ([name]) => money(usage.remaining[name]), 'num'],
              ['Resets', ([, , resets]) => when(resets(usage))],
            ],
            '',
          ),
        ),
      ),
      session.can('compliance') ? kycForm(api, account_id, view.kyc_tier, refresh) : null,
    );
  });
  return box;
}

function kycForm(api: Api, account_id: string, current_tier: number, refresh: () => void): Node {
  const tier = h(
    'select',
    { name: 'tier' },
    ...TIERS.map(([value, label]) => h('option', { value, selected: value === current_tier }, label)),
  );
  const reason = h('input', { name: 'reason', required: true, maxlength: 500, size: 28 });
  const form = h(
    'form',
    { 'aria-label': 'Change KYC tier' },
    h(
      'div',
      { class: 'row' },
      h('label', {}, 'Tier', tier),
      h('label', {}, 'Reason', reason),
      h('button', { type: 'submit' }, 'Review tier change…'),
    ),
  );
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    const body = { tier: Number(tier.value) as 0 | 1 | 2, reason: reason.value };
    confirmAction(
      api,
      {
        title: 'Change KYC tier',
        details: [
          ['Account', account_id],
          ['Tier', `${tierName(current_tier)} → ${tierName(body.tier)}`],
          ['Reason', body.reason],
          ['Effect', "the account's limits become the new tier's (its own overrides stay)"],
        ],
        confirm_label: 'Change the tier',
        idempotent: false,
        send: (client) => data(client.PUT('/v1/accounts/{id}/kyc', { params: { path: { id: account_id } }, body })),
        done: (account) => `Account ${account.id} is now at tier ${tierName(account.kyc_tier)}.`,
      },
      refresh,
    );
  });
  return h('details', {}, h('summary', {}, 'Change KYC tier'), form);
}

type StatusAction = 'freeze' | 'unfreeze';
const STATUS_ACTIONS: Record<StatusAction, { label: string; effect: string; danger: boolean }> = {
  freeze: {
    label: 'Freeze',
    effect: 'money may still come in; none may leave: debits, transfers out and withdrawals answer 409 account_frozen',
    danger: true,
  },
  unfreeze: { label: 'Unfreeze', effect: 'money may leave the account again', danger: false },
};

export function accountStatus({ api, session, account_id, refresh }: SectionContext): Child {
  const box = h('div');
  void load(box, async () => {
    const account = await data(api.GET('/v1/accounts/{id}', { params: { path: { id: account_id } } }));
    const action: StatusAction | undefined = account.status === 'active' ? 'freeze' : account.status === 'frozen' ? 'unfreeze' : undefined;
    return h(
      'div',
      {},
      summary([
        ['Status', status(account.status)],
        ['KYC tier', tierName(account.kyc_tier)],
      ]),
      action && account.kind === 'player' && session.can('compliance') ? statusForm(api, account_id, action, refresh) : null,
      session.can('compliance')
        ? complianceHistory(api, account_id)
        : h('p', { class: 'muted' }, 'Who changed the status, tier and limits is shown to tokens with compliance:write.'),
    );
  });
  return box;
}

function statusForm(api: Api, account_id: string, action: StatusAction, refresh: () => void): Node {
  const { label, effect, danger } = STATUS_ACTIONS[action];
  const reason = h('input', { name: 'reason', required: action === 'freeze', maxlength: 500, size: 28 });
  const form = h(
    'form',
    { 'aria-label': `${label} account` },
    h(
      'div',
      { class: 'row' },
      h('label', {}, action === 'freeze' ? 'Reason (required)' : 'Reason', reason),
      h('button', { type: 'submit', class: danger ? 'danger' : undefined }, `Review ${action}…`),
    ),
  );
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    const body = reason.value ? { reason: reason.value } : {};
    const params = (key: string) => ({ path: { id: account_id }, header: { 'Idempotency-Key': key } });
    confirmAction(
      api,
      {
        title: `${label} account`,
        details: [
          ['Account', account_id],
          ['Reason', reason.value || '—'],
          ['Effect', effect],
        ],
        confirm_label: `${label} the account`,
        danger,
        send: (client, key) =>
          data(
            action === 'freeze'
              ? client.POST('/v1/accounts/{id}/freeze', { params: params(key), body: { reason: reason.value } })
              : client.POST('/v1/accounts/{id}/unfreeze', { params: params(key), body }),
          ),
        done: (account) => `Account ${account.id} is ${account.status}.`,
      },
      refresh,
    );
  });
  return h('details', { open: true }, h('summary', {}, `${label} the account`), form);
}

function complianceHistory(api: Api, account_id: string): Node {
  return h(
    'div',
    {},
    h('h3', { class: 'muted' }, 'History of status, tier and limits'),
    pagedList<Schemas['ComplianceAction']>({
      fetch: (cursor) =>
        data(
          api.GET('/v1/accounts/{id}/compliance-actions', {
            params: { path: { id: account_id }, query: { limit: PAGE_SIZE, cursor } },
          }),
        ),
      render: (rows) =>
        table(
          rows,
          [
            ['When', (entry) => when(entry.created_at)],
            ['Action', (entry) => entry.action],
            ['Change', (entry) => changeText(entry.details)],
            ['Reason', (entry) => entry.reason ?? ''],
            ['By', (entry) => entry.actor],
          ],
          'No change yet: the account is as it was opened.',
        ),
    }),
  );
}

/** {from, to} as "from → to"; anything else (limits set and cleared) as its JSON. */
function changeText(details: Record<string, unknown>): string {
  if ('from' in details && 'to' in details) return `${String(details['from'])} → ${String(details['to'])}`;
  return JSON.stringify(details);
}
