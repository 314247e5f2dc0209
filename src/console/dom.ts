// A few helpers to build the DOM: text always goes in as text (never as HTML), so nothing an
// account id, a reason or a seller's error says can become markup.

export type Child = Node | string | number | null | undefined | false;
type Attributes = Record<string, string | number | boolean | EventListener | undefined>;

/** An element with attributes (`on<event>` adds a listener; `true` sets a flag, `false`/undefined leaves it out) and children. */
export function h<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  attributes: Attributes = {},
  ...children: Child[]
): HTMLElementTagNameMap[K] {
  const element = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) {
    if (typeof value === 'function') element.addEventListener(name.slice(2), value);
    else if (value === true) element.setAttribute(name, '');
    else if (value !== false && value !== undefined) element.setAttribute(name, String(value));
  }
  element.append(...nodes(children));
  return element;
}

function nodes(children: Child[]): Node[] {
  return children
    .filter((child) => child !== null && child !== undefined && child !== false)
    .map((child) => (child instanceof Node ? child : document.createTextNode(String(child))));
}

/** Replaces what `parent` shows. */
export function show(parent: Element, ...children: Child[]): void {
  parent.replaceChildren(...nodes(children));
}

/** A table of `rows`, or the empty text when there are none. */
export function table<Row>(rows: readonly Row[], columns: Array<[string, (row: Row) => Child, 'num'?]>, empty: string): Node {
  if (rows.length === 0) return h('p', { class: 'empty' }, empty);
  return h(
    'table',
    {},
    h('thead', {}, h('tr', {}, ...columns.map(([title, , kind]) => h('th', { scope: 'col', class: kind }, title)))),
    h('tbody', {}, ...rows.map((row) => h('tr', {}, ...columns.map(([, cell, kind]) => h('td', { class: kind }, cell(row)))))),
  );
}

/** Label and value pairs. */
export function summary(pairs: Array<[string, Child]>): Node {
  return h('dl', { class: 'summary' }, ...pairs.flatMap(([term, value]) => [h('dt', {}, term), h('dd', {}, value)]));
}

export function badge(text: string, tone?: 'good' | 'bad' | 'warn'): Node {
  return h('span', { class: tone ? `badge ${tone}` : 'badge' }, text);
}

/** An amount in minor units, with its currency. */
export function money(amount_minor: number | null | undefined, currency?: string | null): string {
  if (amount_minor === null || amount_minor === undefined) return '—';
  return `${amount_minor.toLocaleString('en')}${currency ? ` ${currency}` : ''}`;
}

export function when(timestamp: string | null | undefined): string {
  return timestamp ? timestamp.replace('T', ' ').replace(/\.\d+Z$/, 'Z') : '—';
}

const statusTone = (value: string): 'good' | 'bad' | 'warn' | undefined =>
  /^(ACTIVE|COMPLETED|SUCCEEDED|CAPTURED|PAID|purchased|active|resolved|delivered|enabled)$/.test(value)
    ? 'good'
    : /^(FAILED|REVERSED|REVOKED|CANCELLED|failed|not_available|price_not_met|frozen|closed|disabled)$/.test(value)
      ? 'bad'
      : /^(PENDING|pending|PARTIALLY_REFUNDED|REFUNDED|open)$/.test(value)
        ? 'warn'
        : undefined;

/** A state as a badge, coloured by what it means for the money. */
export const status = (value: string) => badge(value, statusTone(value));

/** The start of a long id, the whole of it on hover. */
export const short = (id: string | null | undefined) => (id ? h('code', { title: id }, id.slice(0, 8)) : '—');
