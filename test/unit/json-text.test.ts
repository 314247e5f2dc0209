import { describe, expect, it } from 'vitest';
import { jsonText } from '../../src/platform/json-text.js';

describe('JSON text of views with sums past 2^53', () => {
  it('when a view holds BigInts, then they are written as exact integers and nothing else changes', () => {
    const view = { balance: -(2n ** 60n) - 7n, totals: [1n, 2], note: 'bigint:12', nested: { zero: 0n }, text: '"\\u0000' };
    const text = jsonText(view);
    expect(text).toBe('{"balance":-1152921504606846983,"totals":[1,2],"note":"bigint:12","nested":{"zero":0},"text":"\\"\\\\u0000"}');
    expect(jsonText({ plain: 1, list: ['a'] })).toBe(JSON.stringify({ plain: 1, list: ['a'] }));
  });
});
