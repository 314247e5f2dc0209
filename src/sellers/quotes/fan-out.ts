import type { AppDeps } from '../../platform/deps.js';
import type { CallSlots } from '../client/call-slots.js';
import type { OutboundAgents } from '../client/http-call.js';
import { callSettings, requestQuote } from '../client/seller-protocol.js';
import { callSellers } from '../guard/seller-gate.js';
import type { Seller } from '../registry/seller-repository.js';
import { planPhases, type SellerHistory } from './phase-plan.js';
import { resultRecord, skippedRecord, type QuoteRecord } from './quote-record.js';
import { settleWithQuorum } from './settle-with-quorum.js';

export interface FanOutResult {
  quotes: QuoteRecord[];
  sellers_asked: number;
  phases_run: number;
  /** Resolves when every call of the fan-out has ended and been recorded (stragglers included). */
  recorded: Promise<void>;
}

// A phase is not started with less time left than this: its answers could not arrive.
const PHASE_TIME_MIN_MS = 100;
// A fan-out that got no answer at all re-asks once if this much time is left: a burst of
// failures is more often a passing stall (of this pod, of the network) than every seller at once.
const RETRY_TIME_MIN_MS = 1000;
const ROUNDS_MAX = 2;

type Deps = Pick<AppDeps, 'transactions' | 'config' | 'logger' | 'metrics'>;
type FanOutInput = { product_id: string; sellers: readonly Seller[]; history: ReadonlyMap<string, SellerHistory>; deadline_ms: number };

/**
 * Asks sellers for a quote in parallel, phase by phase (see planPhases), each call bounded by
 * the seller's timeout and the fan-out deadline. Sellers with an open circuit or no rate budget
 * are skipped, not waited for; partial answers are fine.
 */
export async function fanOut(deps: Deps, slots: CallSlots, agents: OutboundAgents, input: FanOutInput): Promise<FanOutResult> {
  let result = await askInPhases(deps, slots, agents, input);
  for (
    let round = 1;
    round < ROUNDS_MAX && !answered(result) && result.sellers_asked > 0 && input.deadline_ms - Date.now() >= RETRY_TIME_MIN_MS;
    round += 1
  ) {
    const retry = await askInPhases(deps, slots, agents, input);
    result = {
      ...retry,
      sellers_asked: result.sellers_asked + retry.sellers_asked,
      recorded: Promise.all([result.recorded, retry.recorded]).then(() => undefined),
    };
  }
  return result;
}

const answered = (result: FanOutResult) => result.quotes.some((quote) => quote.available !== null);

async function askInPhases(deps: Deps, slots: CallSlots, agents: OutboundAgents, input: FanOutInput): Promise<FanOutResult> {
  const config = deps.config.sellers;
  const phase_size = Math.min(config.fanout_phase_size, slots.capacity);
  const phases = planPhases(input.sellers, input.history, {
    phase_size,
    sellers_max: config.fanout_sellers_max,
    explore_share: config.fanout_explore_share,
  });
  const quotes: QuoteRecord[] = [];
  const recorded: Array<Promise<void>> = [];
  let sellers_asked = 0;
  let phases_run = 0;
  for (const phase of phases) {
    if (input.deadline_ms - Date.now() < PHASE_TIME_MIN_MS) break;
    if (quotes.filter((quote) => quote.available === true).length >= config.fanout_enough_quotes) break;
    const started_ms = Date.now();
    const gated = await callSellers(
      deps,
      slots,
      'quote',
      phase,
      (seller, timeout_ms) => requestQuote(seller, input.product_id, callSettings(config, agents, timeout_ms)),
      input.deadline_ms,
    );
    const results = await settleWithQuorum(
      gated.calls.map(({ result }) => result),
      { deadline_ms: input.deadline_ms, quorum: config.fanout_quorum, grace_ms: config.fanout_straggler_grace_ms },
    );
    quotes.push(...gated.skipped.map(({ seller, reason }) => skippedRecord(seller.id, reason)));
    quotes.push(...gated.calls.map(({ seller }, index) => resultRecord(seller.id, results[index], Date.now() - started_ms)));
    recorded.push(gated.recorded);
    sellers_asked += gated.calls.length;
    phases_run += 1;
  }
  return { quotes, sellers_asked, phases_run, recorded: Promise.all(recorded).then(() => undefined) };
}
