import { isStorableText } from '../domain/text.js';
import { httpCall, type OutboundAgents } from '../sellers/client/http-call.js';
import type { AppDeps } from '../platform/deps.js';
import type { WithdrawalRecord } from './withdrawal-records.js';

/**
 * What the payout provider said to `POST /payouts` (SPEC §10). Only a definite refusal of the
 * payout itself (400 or 422) ends it; any other answer, a timeout or a network error leaves the
 * outcome unknown: the provider may have the payout, so it is asked again with the same
 * Idempotency-Key (the withdrawal id), never paid twice.
 */
export type PayoutAnswer =
  | { kind: 'accepted'; payout_id: string; status: string }
  | { kind: 'refused'; reason: string }
  | { kind: 'unknown'; reason: string };

const REFUSALS = new Set([400, 422]);
const TEXT_MAX = 255;

export async function requestPayout(
  deps: Pick<AppDeps, 'config' | 'metrics'>,
  agents: OutboundAgents,
  withdrawal: WithdrawalRecord,
  timeout_ms: number,
  signal: AbortSignal,
): Promise<PayoutAnswer> {
  const { wallet } = deps.config;
  const outcome = await httpCall({
    method: 'POST',
    url: `${wallet.payout_provider_url}/payouts`,
    body: { id: withdrawal.id, amount: withdrawal.amount_minor, currency: withdrawal.currency, destination: withdrawal.destination },
    headers: { 'Idempotency-Key': withdrawal.id },
    timeout_ms,
    response_bytes_max: wallet.payout_response_bytes_max,
    signal,
    agents,
  });
  const answer = readAnswer(outcome);
  deps.metrics.payout_calls_total.inc({ outcome: answer.kind });
  return answer;
}

function readAnswer(outcome: Awaited<ReturnType<typeof httpCall>>): PayoutAnswer {
  if (outcome.kind !== 'answered') return { kind: 'unknown', reason: `${outcome.kind}: ${outcome.detail}` };
  const body = (typeof outcome.body === 'object' && outcome.body !== null ? outcome.body : {}) as Record<string, unknown>;
  if (outcome.status >= 200 && outcome.status < 300) {
    const { payout_id, status } = body;
    if (isText(payout_id) && isText(status)) return { kind: 'accepted', payout_id, status };
    return { kind: 'unknown', reason: `a ${outcome.status} without a payout_id and status` };
  }
  const error = isText(body['error']) ? `: ${body['error']}` : '';
  if (REFUSALS.has(outcome.status)) return { kind: 'refused', reason: `the payout provider refused it (${outcome.status}${error})` };
  return { kind: 'unknown', reason: `the payout provider answered ${outcome.status}${error}` };
}

/** Text of the provider's that is stored (ids, statuses, reasons): what the database refuses is no answer. */
function isText(value: unknown): value is string {
  return typeof value === 'string' && value.length >= 1 && value.length <= TEXT_MAX && isStorableText(value);
}
