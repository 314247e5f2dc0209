import { describe, expect, it } from 'vitest';
import { hasRoundedWholeNumber } from '../../src/domain/json-numbers.js';
import { duplicateKey } from '../../src/http/duplicate-keys.js';

// Both read the text JSON.parse has accepted, token by token, on every request body.
describe('scanning a JSON body', () => {
  it('finds a name written twice in one object, after escapes are read, and nowhere else', () => {
    expect(duplicateKey(String.raw`{"a":1,"\u0061":2}`)).toBe('a');
    expect(duplicateKey(String.raw`{"a\\":1,"b":{"a\\":1},"a\\":2}`)).toBe('a\\');
    expect(duplicateKey(String.raw`{"a":"\",\"a\":","b":[{"a":1},{"a":2}],"c":{}}`)).toBeUndefined();
    expect(duplicateKey('[{"a":1},{"a":1}]')).toBeUndefined();
    expect(duplicateKey('"a"')).toBeUndefined();
  });

  it('reads one string of millions of characters without overflowing (the body limit allows 10 MiB)', () => {
    const long = `{"a":"${'x\\"'.repeat(3_000_000)}","a":1.0000000000000000000001}`;
    expect(duplicateKey(long)).toBe('a');
    expect(hasRoundedWholeNumber(long)).toBe(true);
    expect(hasRoundedWholeNumber(`{"a":"${'x'.repeat(9_000_000)} 1.0000000000000000000001"}`)).toBe(false);
  });
});
