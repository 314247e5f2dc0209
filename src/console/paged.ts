import { load } from './api.js';
import { type Child, h } from './dom.js';

export interface Page<T> {
  data: T[];
  next_cursor: string | null;
}

const ALL_PAGES_MAX = 10;

/** Every item of a short list (sellers, webhook endpoints), walking its pages up to a bound. */
export async function allPages<T>(fetch: (cursor: string | undefined) => Promise<Page<T>>): Promise<T[]> {
  const items: T[] = [];
  let cursor: string | undefined;
  for (let page = 0; page < ALL_PAGES_MAX; page += 1) {
    const answer = await fetch(cursor);
    items.push(...answer.data);
    if (answer.next_cursor === null) break;
    cursor = answer.next_cursor;
  }
  return items;
}

export interface PagedListOptions<T> {
  /** One page: after `cursor` (undefined: the first), narrowed by the filter's value ('' for none). */
  fetch(cursor: string | undefined, filter: string): Promise<Page<T>>;
  render(rows: T[]): Child;
  filter?: { label: string; options: Array<[string, string]> };
}

/**
 * A list the API pages with cursors, newest first: a filter if the list has one, and Newer / Older
 * buttons. The cursors of the pages seen are kept so that Newer goes back exactly.
 */
export function pagedList<T>(options: PagedListOptions<T>): HTMLElement {
  const body = h('div');
  const newer = h('button', { type: 'button', class: 'secondary' }, '← Newer');
  const older = h('button', { type: 'button', class: 'secondary' }, 'Older →');
  const position = h('span', { class: 'muted' });
  const select = options.filter
    ? h('select', {}, ...options.filter.options.map(([value, label]) => h('option', { value }, label)))
    : undefined;
  // cursors[i] opened page i (undefined for the first page).
  let cursors: Array<string | undefined> = [undefined];
  let index = 0;
  let next: string | null = null;
  const go = async (to: number) => {
    index = to;
    newer.disabled = true;
    older.disabled = true;
    await load(body, async () => {
      const page = await options.fetch(cursors[index], select?.value ?? '');
      next = page.next_cursor;
      return options.render(page.data);
    });
    newer.disabled = index === 0;
    older.disabled = next === null;
    position.textContent = index === 0 && next === null ? '' : `page ${index + 1}`;
  };
  newer.addEventListener('click', () => void go(index - 1));
  older.addEventListener('click', () => {
    cursors = [...cursors.slice(0, index + 1), next ?? undefined];
    void go(index + 1);
  });
  select?.addEventListener('change', () => {
    cursors = [undefined];
    void go(0);
  });
  void go(0);
  return h(
    'div',
    {},
    select && options.filter ? h('div', { class: 'row' }, h('label', {}, options.filter.label, select)) : null,
    body,
    h('div', { class: 'row' }, newer, older, position),
  );
}
