import { JSON_STRING_PATTERN } from '../domain/json-numbers.js';

/**
 * A name written twice in one JSON object: JSON.parse keeps the last, while a gateway, a log or a
 * signature checker in front of us may read the first, so two readers would act on two different
 * requests. I-JSON (RFC 7493) says names MUST be unique; such a body is refused.
 */
export const DUPLICATE_KEY = 'a name appears twice in one object of the request body';

const TOKENS = new RegExp(`${JSON_STRING_PATTERN}|[{}[\\],:]`, 'g');

/** The first name written twice in one object of `text`, which JSON.parse has already accepted. */
export function duplicateKey(text: string): string | undefined {
  // One entry per open container: the names of an object so far, or null for an array.
  const open: Array<Set<string> | null> = [];
  let expecting_name = false;
  for (const [token] of text.matchAll(TOKENS)) {
    if (token === '{') {
      open.push(new Set());
      expecting_name = true;
    } else if (token === '[') open.push(null);
    else if (token === '}' || token === ']') open.pop();
    else if (token === ',') expecting_name = open.at(-1) != null;
    else if (token === ':') expecting_name = false;
    else if (expecting_name) {
      const names = open.at(-1)!;
      // Escapes name the same text (`"a"` and `"\u0061"`), as JSON.parse reads them.
      const name = JSON.parse(token) as string;
      if (names.has(name)) return name;
      names.add(name);
    }
  }
  return undefined;
}
