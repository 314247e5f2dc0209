/**
 * Every type of event (SPEC §11), one per change an integrator may react to. The events API and
 * webhook subscriptions accept exactly these (or "*"). A type is listed here before any code
 * emits it, so subscriptions can name it from day one.
 */
export const EVENT_TYPES = [
  'account.created',
  'transaction.posted',
  'hold.created',
  'hold.captured',
  'hold.voided',
  'hold.expired',
  'order.completed',
  'order.cancelled',
  'order.partially_refunded',
  'order.refunded',
  'entitlement.granted',
  'entitlement.revoked',
  'topup.succeeded',
  'topup.failed',
  'topup.reversed',
  'topup.held_for_review',
  'topup.needs_reconciliation',
  'purchase_request.purchased',
  'purchase_request.price_not_met',
  'purchase_request.not_available',
  'purchase_request.failed',
  // Emitted by the wallet (withdrawals, account status) and the periodic reconciliation.
  'withdrawal.paid',
  'withdrawal.failed',
  'account.frozen',
  'account.unfrozen',
  'account.closed',
  'reconciliation.mismatch_found',
  // An endpoint that kept failing was disabled (its own deliveries stop; the others are told).
  'webhook_endpoint.disabled',
] as const;

export type EventType = (typeof EVENT_TYPES)[number];

/** Subscribes an endpoint to every type, including types added later. */
export const ALL_EVENTS = '*';

/**
 * The version of the event envelope and of the views inside `data`: receivers can tell a shape
 * they were not written for. A change that removes or retypes a field gets a new date.
 */
export const EVENTS_API_VERSION = '2026-12-01';

const KNOWN = new Set<string>(EVENT_TYPES);

export function isEventType(value: string): value is EventType {
  return KNOWN.has(value);
}

/** Whether an endpoint subscribed to `enabled_events` receives an event of `type`. */
export function subscribes(enabled_events: readonly string[], type: EventType): boolean {
  return enabled_events.includes(ALL_EVENTS) || enabled_events.includes(type);
}
