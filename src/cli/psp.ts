import { randomUUID } from 'node:crypto';
import { mintToken } from '../auth/tokens.js';
import { loadConfig } from '../platform/config.js';
import { loadTopology } from '../platform/regions.js';
import { signatureHeader } from '../shop/topups/psp-signature.js';
import { commandArgs, reportFailures, UsageError } from './command.js';

// A PSP simulator that sends correctly signed events, in order or not, in parts, repeated, or broken:
//   npm run psp -- <steps> <topup-id> [--url URL] [--amount N] [--currency CUR] [--event-id ID] [--times N] [--shuffle]
// <steps> is a comma-separated list of `succeed`, `fail`, `refund` (an event for the top-up's
// amount), `refund:300` (another amount: a partial refund), `succeed@evt_1` (a chosen event id:
// use one id in two steps with different bodies for a conflict), `not-json` (a signed body that
// is not JSON) and `nul` (an event with U+0000 inside). Examples:
//   npm run psp -- refund:300,fail,succeed,refund:300 <id>     out of order: credited, 600 reversed
//   npm run psp -- succeed@evt_1,refund:1@evt_1 <id>           an event id reused with another body
const TYPES = { succeed: 'payment.succeeded', fail: 'payment.failed', refund: 'payment.refunded' } as const;
const STEP_PATTERN = /^(succeed|fail|refund|not-json|nul)(?::(\d{1,15}))?(?:@([A-Za-z0-9_.:-]{1,255}))?$/;
const TIMES_MAX = 100;
const USAGE =
  'usage: npm run psp -- <step>[,<step>...] <topup-id> [--url URL] [--amount N] [--currency CUR] [--event-id ID] [--times N]' +
  ' [--shuffle]\n' +
  '  step: succeed | fail | refund | not-json | nul, optionally :<amount> and @<event-id> (e.g. refund:300@evt_7)';

reportFailures('psp', USAGE);
const { values, positionals } = commandArgs(
  {
    allowPositionals: true,
    options: {
      url: { type: 'string' },
      amount: { type: 'string' },
      currency: { type: 'string' },
      'event-id': { type: 'string' },
      times: { type: 'string', default: '1' },
      shuffle: { type: 'boolean', default: false },
    },
  },
  USAGE,
);
const [steps_argument, topup_id] = positionals;
const steps = (steps_argument ?? '').split(',').map((step) => STEP_PATTERN.exec(step));
const times = Number(values.times);
if (!topup_id || steps.some((step) => step === null) || !Number.isInteger(times) || times < 1 || times > TIMES_MAX) {
  console.error(USAGE);
  process.exit(2);
}
const config = loadConfig();
const url = values.url ?? `http://127.0.0.1:${loadTopology().regions[0]!.port + config.port_offset}`;
const token = await mintToken(
  { sub: 'psp-simulator', scope: 'admin', expires_in_seconds: 300 },
  { secret: config.auth_jwt_secret, issuer: config.auth_jwt_issuer, audience: config.auth_jwt_audience },
);

async function readTopup(): Promise<{ amount: number; currency: string } & Record<string, unknown>> {
  const response = await fetch(`${url}/v1/topups/${topup_id}`, { headers: { Authorization: `Bearer ${token}` } }).catch((error: Error) => {
    throw new UsageError(
      `cannot reach ${url} (${String((error.cause as Error | undefined)?.message ?? error.message)}): is a pod there? (--url)`,
    );
  });
  if (!response.ok) throw new UsageError(`GET /v1/topups/${topup_id} answered ${response.status}: ${await response.text()}`);
  return (await response.json()) as { amount: number; currency: string };
}

const topup = await readTopup();
const bodies = steps.map((step) => {
  const [, name, amount, event_id] = step!;
  if (name === 'not-json') return { label: 'not JSON', body: `{"id": "evt_${randomUUID()}", "type": "payment.succeeded", "data": {` };
  const type = name === 'nul' ? TYPES.succeed : TYPES[name as keyof typeof TYPES];
  const event = {
    id: event_id ?? values['event-id'] ?? `evt_${randomUUID()}`,
    type,
    data: {
      topup_id,
      amount: Number(amount ?? values.amount ?? topup.amount),
      currency: values.currency ?? topup.currency,
      psp_payment_id: name === 'nul' ? 'pay_\u0000' : `pay_${topup_id.slice(0, 8)}`,
    },
  };
  return { label: `${event.id} (${type} ${event.data.amount} ${event.data.currency})`, body: JSON.stringify(event) };
});
if (values.shuffle) {
  for (let index = bodies.length - 1; index > 0; index -= 1) {
    const other = Math.floor(Math.random() * (index + 1));
    [bodies[index], bodies[other]] = [bodies[other]!, bodies[index]!];
  }
}

for (const { label, body } of bodies) {
  for (let delivery = 1; delivery <= times; delivery += 1) {
    const response = await fetch(`${url}/v1/psp/events`, {
      method: 'POST',
      headers: {
        'Content-Type': 'application/json',
        'Psp-Signature': signatureHeader(config.psp_webhook_secret, Math.floor(Date.now() / 1000), body),
      },
      body,
    });
    console.log(`delivery ${delivery} of ${label}: ${response.status} ${await response.text()}`);
  }
}
const { status, amount, reversed_amount, pending_reversal_amount, unrecovered_amount, review } = await readTopup();
console.log(JSON.stringify({ topup_id, status, amount, reversed_amount, pending_reversal_amount, unrecovered_amount, review }));
