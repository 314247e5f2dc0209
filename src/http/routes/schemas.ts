import Joi from 'joi';
import { DomainError } from '../../domain/errors.js';
import { ACCOUNT_ID_PATTERN, UUID_PATTERN } from '../../domain/ids.js';
import { isStorableIsoInstant } from '../../domain/instants.js';
import { METADATA_KEY_PATTERN, viewSchema } from '../../platform/view-schema.js';
import type { WalletConfig } from '../../platform/wallet-config.js';
import { endpointUrlProblem, type UrlPolicy } from '../../webhooks/url-policy.js';

export const accountIdSchema = Joi.string().pattern(ACCOUNT_ID_PATTERN).messages({
  'string.pattern.base': '{{#label}} must be 1 to 64 characters of A-Z, a-z, 0-9, _ and -',
});
/**
 * UUIDs are read in any case (RFC 9562) and stored in lower case: a path or query names the same
 * object in upper case. A body is not converted (see route.ts): there one in upper case is 400.
 */
export const uuidSchema = Joi.string()
  .pattern(UUID_PATTERN)
  .lowercase()
  .messages({ 'string.pattern.base': '{{#label}} must be a UUID', 'string.lowercase': '{{#label}} must be a UUID in lower case' });

/** In paths an account may also be a system account (`@revenue`): services with a reading scope may look at it. */
const accountRefSchema = Joi.string()
  .pattern(/^@?[A-Za-z0-9_-]{1,64}$/)
  .messages({
    'string.pattern.base': '{{#label}} must be an account id (1 to 64 of A-Z, a-z, 0-9, _ and -) or a system account (@name)',
  });
export const accountParams = Joi.object({ id: accountRefSchema.required() });
/** Money moves only on player accounts; system accounts move only as the other side of a posting. */
export const playerAccountParams = Joi.object({ id: accountIdSchema.required() });
export const uuidParams = Joi.object({ id: uuidSchema.required() });

export function pageQuery(page_size_max: number, page_size_default: number, extra: Joi.PartialSchemaMap = {}) {
  return Joi.object({
    limit: Joi.number().integer().min(1).max(page_size_max).default(page_size_default),
    cursor: Joi.string()
      .max(512)
      .pattern(/^[A-Za-z0-9_-]+$/),
    ...extra,
  });
}

/** SPEC §4 lists, `{ data: [...], next_cursor }`, named `id` in /openapi.json. */
export function pageSchema(id: string, item: Joi.Schema): Joi.ObjectSchema {
  return viewSchema(id, {
    data: Joi.array().items(item),
    next_cursor: Joi.string().allow(null).description('Pass as `cursor` for the next page; null on the last page'),
  });
}

/** The schema extension that carries a character limit into /openapi.json, as `maxLength` (openapi.ts). */
export const CHARACTERS_MAX = 'x-characters-max';

/**
 * Text of at most `max` characters, counted as people, JSON Schema's maxLength and PostgreSQL's
 * char_length count them (code points): Joi's max() counts UTF-16 units, and refused 101 emoji
 * under a limit of 200 characters.
 */
function charactersMax(max: number, text = Joi.string().allow('')) {
  return text
    .custom((value: string, helpers) =>
      value.length <= max || [...value].length <= max ? value : helpers.message({ custom: `{{#label}} must be at most ${max} characters` }),
    )
    .meta({ [CHARACTERS_MAX]: max });
}

/** Text a person writes (a reason, a note, a name, a reference): 1 to `max` characters. */
export function textSchema(max: number) {
  return charactersMax(max, Joi.string().min(1));
}

/**
 * `metadata` on money objects (SPEC §10), one schema for every route that takes it: at most
 * METADATA_KEYS_MAX keys of [A-Za-z0-9_.-], each at most METADATA_KEY_LENGTH_MAX long, string
 * values of at most METADATA_VALUE_LENGTH_MAX characters. Any other key or value is 400.
 */
export function metadataSchema(wallet: WalletConfig) {
  return Joi.object()
    .pattern(
      Joi.string().min(1).max(wallet.metadata_key_length_max).pattern(METADATA_KEY_PATTERN),
      charactersMax(wallet.metadata_value_length_max),
    )
    .max(wallet.metadata_keys_max)
    .messages({ 'object.unknown': `{{#label}}: metadata keys are 1 to ${wallet.metadata_key_length_max} of A-Z, a-z, 0-9, _, . and -` });
}

/** Query parameters of a history filtered by one `metadata[key]=value`. */
export function metadataFilterQuery(wallet: WalletConfig) {
  const key = `[A-Za-z0-9_.-]{1,${wallet.metadata_key_length_max}}`;
  return {
    pattern: new RegExp(`^metadata\\[${key}\\]$`),
    value: charactersMax(wallet.metadata_value_length_max),
  };
}

/** The one `metadata[key]=value` of a validated query, if any; more than one is 400. */
export function metadataFilterOf(query: Record<string, unknown>): { key: string; value: string } | undefined {
  const filters = Object.keys(query).filter((name) => name.startsWith('metadata['));
  if (filters.length > 1) throw new DomainError('validation_error', 'history is filtered by one metadata[key]=value at most');
  const name = filters[0];
  return name === undefined ? undefined : { key: name.slice('metadata['.length, -1), value: query[name] as string };
}

const INSTANT_RANGE = '{{#label}} must be a date that exists, from 0001-01-01 to 9999-12-31 in UTC';

/** An RFC 3339 instant with its offset (a date alone, or a time without a zone, is ambiguous). */
export const instantSchema = Joi.date()
  .iso()
  .custom((value: Date, helpers) => {
    const problem = instantProblem(String(helpers.original), value.getTime());
    return problem ? helpers.message({ custom: problem }) : value;
  });

/**
 * What is wrong with an instant's text, if anything: without its offset a pod read it in its own
 * time zone (events' created_after with TZ=America/New_York was 5 hours off); out of range.
 */
function instantProblem(text: string, ms: number): string | undefined {
  if (!/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?(Z|[+-]\d{2}:\d{2})$/.test(text))
    return '{{#label}} must be an RFC 3339 instant with its offset, e.g. 2026-01-31T23:59:59Z';
  return isStorableIsoInstant(text, ms) ? undefined : INSTANT_RANGE;
}

/** An RFC 3339 instant with its offset, as the ISO text of the instant (the events list's bounds). */
export const isoInstantTextSchema = Joi.string()
  .isoDate()
  .custom((value: string, helpers) => {
    const problem = instantProblem(String(helpers.original), Date.parse(value));
    return problem ? helpers.message({ custom: problem }) : value;
  });

/** How a request that spends from an account's wallet can be refused (OpenAPI responses); `limits` names the KYC limits in play. */
export function spendingRefusals(limits = 'a KYC limit on what the account may spend') {
  return {
    404: 'No such account',
    409: {
      description: 'Insufficient funds, or the account is frozen or closed',
      codes: ['insufficient_funds', 'account_frozen', 'account_closed'],
    },
    422: {
      description: `No wallet in this currency, ${limits}, or Idempotency-Key reused`,
      codes: ['currency_mismatch', 'limit_exceeded'],
    },
  } as const;
}

/** A partner's URL we call (a webhook endpoint, a seller): http(s), a valid port, no credentials, within the policy. */
export function partnerUrlSchema(policy: UrlPolicy): Joi.StringSchema {
  return Joi.string()
    .max(policy.length_max)
    .custom((value: string, helpers) => {
      const problem = endpointUrlProblem(value, policy);
      return problem ? helpers.message({ custom: `{{#label}} ${problem}` }) : value;
    });
}
