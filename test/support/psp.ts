import { randomUUID } from 'node:crypto';
import { expect } from 'vitest';
import { signatureHeader } from '../../src/shop/topups/psp-signature.js';
import type { PspEvent as TestPspEvent, PspEventType } from '../../src/shop/topups/topup-state-machine.js';
import { request, type ApiResponse } from './cluster.js';

export type { PspEventType, TestPspEvent };

/**
 * A test PSP: sends correctly signed bodies over HTTP to the real pods, spread over them, in
 * whatever order and as often as a test asks.
 */
export class TestPsp {
  constructor(
    private readonly urls: readonly string[],
    private readonly secret: string,
  ) {}

  /** An event for a top-up; one payment id per top-up, as a PSP reports one payment. */
  event(type: PspEventType, topup_id: string, amount: number, fields: Partial<TestPspEvent['data']> & { id?: string } = {}): TestPspEvent {
    const { id, ...data } = fields;
    return {
      id: id ?? `evt_${randomUUID()}`,
      type,
      data: { topup_id, amount, currency: 'EUR', psp_payment_id: `pay_${topup_id}`, ...data },
    };
  }

  send(event: TestPspEvent, pod = 0): Promise<ApiResponse> {
    return this.sendRaw(JSON.stringify(event), pod);
  }

  /** Any bytes, signed with the PSP secret (or another one). */
  sendRaw(
    raw: string | Buffer,
    pod = 0,
    options: { secret?: string; timestamp_s?: number; content_type?: string } = {},
  ): Promise<ApiResponse> {
    const header = signatureHeader(options.secret ?? this.secret, options.timestamp_s ?? Math.floor(Date.now() / 1000), raw);
    return request(this.urls[pod % this.urls.length]!, 'POST', '/v1/psp/events', undefined, {
      raw,
      headers: { 'Psp-Signature': header, 'Content-Type': options.content_type ?? 'application/json' },
    });
  }

  /** Sends events one after the other, each to a random pod; returns the outcomes in order. */
  async sendInOrder(events: TestPspEvent[]): Promise<string[]> {
    const outcomes: string[] = [];
    for (const event of events) {
      const response = await this.send(event, Math.floor(Math.random() * this.urls.length));
      if (response.status !== 200) throw new Error(`PSP event ${event.id} answered ${response.status}: ${JSON.stringify(response.body)}`);
      outcomes.push(response.body.outcome);
    }
    return outcomes;
  }
}

export function shuffled<T>(items: readonly T[]): T[] {
  const copy = [...items];
  for (let index = copy.length - 1; index > 0; index -= 1) {
    const other = Math.floor(Math.random() * (index + 1));
    [copy[index], copy[other]] = [copy[other]!, copy[index]!];
  }
  return copy;
}

export function permutations<T>(items: readonly T[]): T[][] {
  if (items.length <= 1) return [[...items]];
  return items.flatMap((item, index) => permutations([...items.slice(0, index), ...items.slice(index + 1)]).map((rest) => [item, ...rest]));
}

export interface HeldEvent {
  event_id: string;
  outcome: string;
  topup_id: string | null;
}

/** Reconciliation reports exactly these PSP events as held for review, nothing else, and is ok only without them. */
export async function expectHeldForReview(base: string, admin_token: string, held: readonly HeldEvent[]): Promise<void> {
  const report = await request(base, 'POST', '/v1/admin/reconcile', undefined, { token: admin_token });
  expect(report.status).toBe(200);
  const reported = report.body.mismatches.map((mismatch: Record<string, unknown>) => {
    expect(mismatch).toMatchObject({ check: 'psp_event_held_for_review', actual: expect.any(String) });
    return { event_id: mismatch['event_id'], outcome: mismatch['outcome'], topup_id: mismatch['topup_id'] };
  });
  const sorted = (items: readonly HeldEvent[]) =>
    [...items].sort((a, b) => `${a.event_id}/${a.outcome}`.localeCompare(`${b.event_id}/${b.outcome}`));
  expect(sorted(reported)).toEqual(sorted(held));
  expect(report.body.ok).toBe(held.length === 0);
}
