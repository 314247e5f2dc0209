/**
 * Numbers a JSON text writes that JSON.parse rounds to a whole number though they are not one:
 * `1.0000000000000000000001` parses as 1, and a schema asking for an integer would take it. A
 * money API must not read an amount other than the one sent, so such a body is refused.
 */
export const ROUNDED_NUMBER = 'a number in the request body has more digits than can be read exactly (it would be rounded)';

/**
 * A JSON string token, written as runs between escapes: `"(?:[^"\\]|\\.)*"` would overflow the
 * regex engine's stack on one long string (a 500 where the body limit allows megabytes).
 */
export const JSON_STRING_PATTERN = String.raw`"[^"\\]*(?:\\.[^"\\]*)*"`;

const TOKENS = new RegExp(`${JSON_STRING_PATTERN}|-?\\d+(?:\\.\\d+)?(?:[eE][+-]?\\d+)?`, 'g');

export function hasRoundedWholeNumber(text: string): boolean {
  for (const [token] of text.matchAll(TOKENS)) {
    if (token.startsWith('"') || !/[.eE]/.test(token) || !Number.isInteger(Number(token))) continue;
    const [mantissa = '', exponent = '0'] = token.replace(/^-/, '').split(/[eE]/);
    const [whole = '', fraction = ''] = mantissa.split('.');
    // The digits that stand after the decimal point once the exponent has moved it.
    const point = whole.length + Number(exponent);
    if (/[1-9]/.test((whole + fraction).slice(Math.max(0, point)))) return true;
  }
  return false;
}
