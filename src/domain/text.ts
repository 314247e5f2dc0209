// With the `u` flag a surrogate pair is one code point, so the range matches lone surrogates only.
// biome-ignore lint/suspicious/noControlCharactersInRegex: U+0000 is exactly what must be found
const UNSTORABLE = /[\u0000\uD800-\uDFFF]/u;

/**
 * Text that PostgreSQL (and CockroachDB) cannot store as it was sent: U+0000, which TEXT and
 * JSONB refuse, and a lone UTF-16 surrogate, which has no UTF-8 encoding (Node would silently
 * replace it with U+FFFD, changing what the client sent). One rule for every string that may reach
 * the database: body values and keys, path and query parameters, headers we store.
 */
export function isStorableText(text: string): boolean {
  return !UNSTORABLE.test(text);
}

/**
 * Object keys that JavaScript gives a meaning: `__proto__` is the prototype accessor, so copying
 * a parsed body (Object.assign, which joi does) sets a prototype instead of a field and the field
 * silently disappears from validation; `constructor` and `prototype` shadow what code may look up
 * on any object. No request field is named so, so they are refused wherever they appear.
 */
const RESERVED_KEYS: ReadonlySet<string> = new Set(['__proto__', 'constructor', 'prototype']);

export type TextProblem = { path: string; reason: 'unstorable_text' | 'reserved_key' | 'too_deep' | 'too_many_items'; key?: string };

/**
 * The first string (value or object key) of a parsed JSON value that the database cannot store,
 * the first reserved object key, the first place nested deeper than `depth_max`, or the first
 * array longer than `array_items_max` (every item of a long array would be judged, and each
 * judgement answered, by the schema after this). Iterative, so a hostile nesting depth can never
 * overflow the stack; visits each node once.
 */
export function findTextProblem(value: unknown, depth_max: number, array_items_max = Number.POSITIVE_INFINITY): TextProblem | undefined {
  const pending: Array<{ value: unknown; path: string; depth: number }> = [{ value, path: '', depth: 0 }];
  for (let next = pending.pop(); next !== undefined; next = pending.pop()) {
    const { value: node, path, depth } = next;
    if (typeof node === 'string') {
      if (!isStorableText(node)) return { path, reason: 'unstorable_text' };
      continue;
    }
    if (node === null || typeof node !== 'object') continue;
    if (depth >= depth_max) return { path, reason: 'too_deep' };
    if (Array.isArray(node)) {
      if (node.length > array_items_max) return { path, reason: 'too_many_items' };
      for (let index = node.length - 1; index >= 0; index -= 1)
        pending.push({ value: node[index], path: `${path}[${index}]`, depth: depth + 1 });
      continue;
    }
    const entries = Object.entries(node);
    // A bad key is reported at its parent: echoing it would put the bad text in the answer.
    if (entries.some(([key]) => !isStorableText(key))) return { path, reason: 'unstorable_text' };
    const reserved = entries.find(([key]) => RESERVED_KEYS.has(key));
    if (reserved) return { path, reason: 'reserved_key', key: reserved[0] };
    for (let index = entries.length - 1; index >= 0; index -= 1) {
      const [key, entry] = entries[index]!;
      pending.push({ value: entry, path: path === '' ? key : `${path}.${key}`, depth: depth + 1 });
    }
  }
  return undefined;
}
