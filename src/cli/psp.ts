import { randomUUID } from 'node:crypto';
import { parseArgs } from 'node:util';
import { mintToken } from '../auth/tokens.js';
import { loadConfig } from '../platform/config.js';
import { loadTopology } from '../platform/regions.js';
import { signatureHeader } from '../shop/topups/psp-signature.js';

// A PSP simulator: `npm run psp -- succeed|fail|refund <topup-id> [--url http://127.0.0.1:3001]
// [--amount N] [--currency EUR] [--event-id evt_1] [--times 1]` sends correctly signed events.
const TYPES = { succeed: 'payment.succeeded', fail: 'payment.failed', refund: 'payment.refunded' } as const;

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    url: { type: 'string' },
    amount: { type: 'string' },
    currency: { type: 'string' },
    'event-id': { type: 'string' },
    times: { type: 'string', default: '1' },
  },
});
const [command, topup_id] = positionals;
if (!command || !(command in TYPES) || !topup_id) {
  console.error(
    'usage: npm run psp -- succeed|fail|refund <topup-id> [--url URL] [--amount N] [--currency CUR] [--event-id ID] [--times N]',
  );
  process.exit(2);
}
const config = loadConfig();
const url = values.url ?? `http://127.0.0.1:${loadTopology().regions[0]!.port + config.port_offset}`;

async function topupDetails(): Promise<{ amount: number; currency: string }> {
  if (values.amount && values.currency) return { amount: Number(values.amount), currency: values.currency };
  const token = await mintToken(
    { sub: 'psp-simulator', scope: 'admin', expires_in_seconds: 300 },
    { secret: config.auth_jwt_secret, issuer: config.auth_jwt_issuer, audience: config.auth_jwt_audience },
  );
  const response = await fetch(`${url}/v1/topups/${topup_id}`, { headers: { Authorization: `Bearer ${token}` } });
  if (!response.ok) throw new Error(`GET /v1/topups/${topup_id} answered ${response.status}: ${await response.text()}`);
  const topup = (await response.json()) as { amount: number; currency: string };
  return { amount: values.amount ? Number(values.amount) : topup.amount, currency: values.currency ?? topup.currency };
}

const { amount, currency } = await topupDetails();
const event = {
  id: values['event-id'] ?? `evt_${randomUUID()}`,
  type: TYPES[command as keyof typeof TYPES],
  data: { topup_id, amount, currency, psp_payment_id: `pay_${topup_id.slice(0, 8)}` },
};
const body = JSON.stringify(event);
for (let delivery = 1; delivery <= Math.min(Number(values.times), 100); delivery += 1) {
  const response = await fetch(`${url}/v1/psp/events`, {
    method: 'POST',
    headers: {
      'Content-Type': 'application/json',
      'Psp-Signature': signatureHeader(config.psp_webhook_secret, Math.floor(Date.now() / 1000), body),
    },
    body,
  });
  console.log(`delivery ${delivery} of ${event.id} (${event.type}): ${response.status} ${await response.text()}`);
}
