/** What the fleet remembers of a seller for one product: its last quote and its health. */
export interface SellerHistory {
  last_available: boolean | null;
  last_price_minor: number | null;
  /** When the last quote was received (epoch ms); null: never asked for this product. */
  observed_at_ms: number | null;
  latency_ms_avg: number | null;
  recent_error_rate: number;
}

export interface PhasePlanOptions {
  phase_size: number;
  sellers_max: number;
  /** Share (0..1) of the first phase given to the sellers whose knowledge is oldest, so that history never goes stale. */
  explore_share: number;
}

// A seller failing at least this share of its recent calls is asked last.
const UNRELIABLE_ERROR_RATE = 0.5;

enum Rank {
  KnownAvailable = 0,
  Unknown = 1,
  KnownUnavailable = 2,
  Unreliable = 3,
}

function rank(history: SellerHistory | undefined): Rank {
  if (!history) return Rank.Unknown;
  if (history.recent_error_rate >= UNRELIABLE_ERROR_RATE) return Rank.Unreliable;
  if (history.last_available === true) return Rank.KnownAvailable;
  if (history.last_available === false) return Rank.KnownUnavailable;
  return Rank.Unknown;
}

type Ranked<S> = { seller: S; history: SellerHistory | undefined; rank: Rank };

const byLikelyWinner = <S extends { id: string }>(a: Ranked<S>, b: Ranked<S>) =>
  a.rank - b.rank ||
  (a.rank === Rank.KnownAvailable ? (a.history?.last_price_minor ?? 0) - (b.history?.last_price_minor ?? 0) : 0) ||
  (a.history?.latency_ms_avg ?? Number.MAX_SAFE_INTEGER) - (b.history?.latency_ms_avg ?? Number.MAX_SAFE_INTEGER) ||
  (a.seller.id < b.seller.id ? -1 : 1);

const byStalest = <S extends { id: string }>(a: Ranked<S>, b: Ranked<S>) =>
  (a.history?.observed_at_ms ?? -1) - (b.history?.observed_at_ms ?? -1) || (a.seller.id < b.seller.id ? -1 : 1);

/**
 * Seller selection by history: who to ask first, in phases of `phase_size`. Most of the first
 * phase goes to the likely winners: sellers that last quoted the product as available, cheapest
 * first, then sellers never asked (fastest first), then those that last had none; sellers
 * failing most of their calls come last. The rest of the first phase explores: the sellers
 * whose last answer is the oldest (never asked first), so that over successive requests every
 * seller's price is refreshed and a newly cheap seller is found. With a few hundred sellers this
 * is one phase (everyone is asked); with thousands, later phases run only while the fan-out
 * lacks quotes and has time left.
 */
export function planPhases<S extends { id: string }>(
  sellers: readonly S[],
  history: ReadonlyMap<string, SellerHistory>,
  options: PhasePlanOptions,
): S[][] {
  const ranked = sellers.map((seller) => ({ seller, history: history.get(seller.id), rank: rank(history.get(seller.id)) }));
  if (ranked.length <= options.phase_size) return ranked.length === 0 ? [] : [ranked.sort(byLikelyWinner).map(({ seller }) => seller)];
  const explore_count = Math.floor(options.phase_size * options.explore_share);
  const explored = new Set(
    [...ranked]
      .filter((entry) => entry.rank !== Rank.Unreliable)
      .sort(byStalest)
      .slice(0, explore_count),
  );
  const exploit = ranked.filter((entry) => !explored.has(entry)).sort(byLikelyWinner);
  const first = [...exploit.slice(0, options.phase_size - explored.size), ...explored];
  const ordered = [...first, ...exploit.slice(options.phase_size - explored.size)]
    .slice(0, options.sellers_max)
    .map(({ seller }) => seller);
  const phases: S[][] = [];
  for (let start = 0; start < ordered.length; start += options.phase_size) phases.push(ordered.slice(start, start + options.phase_size));
  return phases;
}
