import { createCreditshopClient, type CreditshopClient, type Problem } from '../client/creditshop-client.js';
import { type Child, h, show } from './dom.js';

export type Api = CreditshopClient;

/** The typed client against the pod that served the console, with the session's token. */
export function apiFor(token: string): Api {
  return createCreditshopClient({ baseUrl: location.origin, token });
}

/** An answer that was a problem (RFC 9457): shown as its title and detail, never swallowed. */
export class ProblemError extends Error {
  constructor(readonly problem: Pick<Problem, 'title' | 'detail' | 'status'> & { code?: string }) {
    super(`${problem.title}: ${problem.detail}`);
  }
}

/** The data of an openapi-fetch answer, or a ProblemError. */
export async function data<T>(answer: Promise<{ data?: T; error?: unknown; response: Response }>): Promise<T> {
  const { data: body, error, response } = await answer;
  if (body !== undefined && response.ok) return body;
  const problem = error as Partial<Problem> | undefined;
  throw new ProblemError({
    title: problem?.title ?? response.statusText ?? 'Request failed',
    detail: problem?.detail ?? `HTTP ${response.status}`,
    status: response.status,
    ...(problem?.code ? { code: problem.code } : {}),
  });
}

/** What went wrong, for people: a problem's title and detail, or the error's message. */
export function problemBox(error: unknown): Node {
  if (error instanceof ProblemError) {
    const { title, detail, status, code } = error.problem;
    return h(
      'div',
      { class: 'problem', role: 'alert' },
      h('strong', {}, title),
      ' — ',
      detail,
      h('span', { class: 'muted' }, ` (${status}${code ? ` ${code}` : ''})`),
    );
  }
  const message = error instanceof Error ? error.message : String(error);
  return h('div', { class: 'problem', role: 'alert' }, h('strong', {}, 'The pod did not answer'), ' — ', message);
}

/** Shows a loading state in `container`, then what `render` made, or the problem that stopped it. */
export async function load(container: Element, render: () => Promise<Child>): Promise<void> {
  container.setAttribute('aria-busy', 'true');
  show(container, h('p', { class: 'muted', role: 'status' }, 'Loading…'));
  try {
    show(container, await render());
  } catch (error) {
    show(container, problemBox(error));
  } finally {
    container.removeAttribute('aria-busy');
  }
}
