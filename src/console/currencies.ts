import type { Api } from './api.js';

/**
 * The currencies the pod is configured with (CURRENCIES), as its /openapi.json lists them: the
 * enum of a credit's currency. Undefined when the document does not say (an older pod): the
 * console then asks for the currency as free text. The document is the pod's own and does not
 * change while the page is open, so its first answer is kept.
 */
let configured: Promise<string[] | undefined> | undefined;

export function configuredCurrencies(api: Api): Promise<string[] | undefined> {
  configured ??= api.GET('/openapi.json').then(
    ({ data }) => {
      const credit = (data?.paths as Record<string, unknown> | undefined)?.['/v1/accounts/{id}/credits'] as
        | { post?: { requestBody?: { content?: Record<string, { schema?: { properties?: Record<string, { enum?: unknown }> } }> } } }
        | undefined;
      const values = credit?.post?.requestBody?.content?.['application/json']?.schema?.properties?.['currency']?.enum;
      return Array.isArray(values) && values.every((value) => typeof value === 'string') ? values : undefined;
    },
    () => {
      // Unanswered (the pod restarting): the next page asks again.
      configured = undefined;
      return undefined;
    },
  );
  return configured;
}
