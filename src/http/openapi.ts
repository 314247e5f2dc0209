import { isDeepStrictEqual } from 'node:util';
import type Joi from 'joi';
import joiToJsonModule from 'joi-to-json';
import { ERROR_CODES, type ErrorCode } from '../domain/errors.js';
import { problemSchema, STATUS_BY_CODE, TITLE_BY_CODE } from './problem.js';
import { CHARACTERS_MAX } from './routes/schemas.js';
import type { ResponseDoc, RouteSpec } from './route.js';

// The package is CommonJS (module.exports = parse) behind ESM-style typings.
const joiToJson = joiToJsonModule as unknown as typeof joiToJsonModule.parse;

type JsonObject = Record<string, unknown>;

const SCHEMAS = '#/components/schemas/';
const HEADERS = '#/components/headers/';
const JSON_TYPE = 'application/json';
const PROBLEM_TYPE = 'application/problem+json';
/** Codes only an idempotent route answers: its own status table says when (implicitErrors). */
const IDEMPOTENCY_CODES = new Set<ErrorCode>(['idempotency_key_required', 'idempotency_key_in_flight', 'idempotency_key_reused']);

const DESCRIPTION = `Multi-region game-commerce backend: wallets, ledger, shop, top-ups, transfers, seller aggregator.

Every answer carries \`X-Region\` (the region of the pod that served it) and \`X-Request-Id\`. Errors are RFC 9457
\`application/problem+json\` with a stable \`code\`; each operation lists the codes of each status it answers.
POSTs that create something or move money need an \`Idempotency-Key\`: the same key and body return the first answer
again with \`Idempotent-Replayed: true\`. 429 and 503 carry \`Retry-After\` (503 is safe to retry with the same key).
Lists answer \`{ data, next_cursor }\`: pass \`next_cursor\` as \`cursor\` until it is null.

A method that a documented path does not serve answers 405 with \`Allow\` (components.responses.MethodNotAllowed);
a path that is not documented here answers 404 (components.responses.NoRoute). Requests whose headers are too large for
the HTTP server get 431 before the app sees them (components.responses.HeadersTooLarge, without X-Request-Id).`;

const RESPONSE_HEADERS = {
  'X-Region': { description: 'The region of the pod that served the request', required: true, schema: { type: 'string' } },
  'X-Request-Id': {
    description: 'The request id (the one sent, when it is 1 to 128 of A-Z a-z 0-9 . _ -), also in logs and problem bodies',
    required: true,
    schema: { type: 'string' },
  },
  'Idempotent-Replayed': {
    description: 'Present when this is the stored answer to an earlier request with the same Idempotency-Key',
    schema: { const: 'true' },
  },
  'Retry-After': { description: 'Seconds to wait before retrying', required: true, schema: { type: 'string', pattern: '^[0-9]+$' } },
  Allow: { description: 'The methods this path serves', required: true, schema: { type: 'string' } },
};

/**
 * What joi-to-json writes, mended in one walk: an object's `.pattern(/re/, value)` comes both as
 * `patternProperties` (right) and as a property literally named "/re/" (wrong: no key is named
 * so), which is dropped; a character limit (schemas.ts textSchema) is JSON Schema's maxLength,
 * which counts characters.
 */
function mendConverted(json: unknown): void {
  if (typeof json !== 'object' || json === null) return;
  const node = json as JsonObject;
  const properties = node['properties'] as JsonObject | undefined;
  if (node['patternProperties'] && properties) {
    for (const key of Object.keys(properties)) if (key.startsWith('/') && key.lastIndexOf('/') > 0) delete properties[key];
  }
  if (CHARACTERS_MAX in node) {
    node['maxLength'] = node[CHARACTERS_MAX];
    delete node[CHARACTERS_MAX];
  }
  for (const value of Object.values(node)) mendConverted(value);
}

/** Joi -> JSON Schema 2020-12. A schema with an id (`viewSchema`) becomes one shared component, referenced where used. */
class SchemaComponents {
  readonly schemas: Record<string, JsonObject> = {};

  convert(schema: Joi.Schema): JsonObject {
    // joi-to-json names each component it meets; a proxy catches two different schemas under one name.
    const found = new Proxy<Record<string, JsonObject>>(
      {},
      {
        set: (target, name, definition: JsonObject) => {
          mendConverted(definition);
          this.add(String(name), definition);
          target[String(name)] = definition;
          return true;
        },
      },
    );
    const converted = joiToJson(schema as never, 'open-api-3.1', found) as JsonObject;
    delete converted['schemas'];
    mendConverted(converted);
    return converted;
  }

  private add(name: string, definition: JsonObject): void {
    const known = this.schemas[name];
    if (known && !isDeepStrictEqual(known, definition)) throw new Error(`two different response schemas are named ${name}`);
    this.schemas[name] = definition;
  }
}

const describe = (doc: string | ResponseDoc | undefined): ResponseDoc | undefined => (typeof doc === 'string' ? { description: doc } : doc);

/** The codes a status means when a route does not narrow them. */
function codesOfStatus(status: number): ErrorCode[] {
  const codes = ERROR_CODES.filter((code) => STATUS_BY_CODE[code] === status && !IDEMPOTENCY_CODES.has(code));
  // 405 and 413 are validation errors answered with their own status (src/http/middleware.ts).
  return codes.length > 0 ? codes : ['validation_error'];
}

/** What a route answers because of what it is, whatever it does. */
function implicitErrors(spec: RouteSpec): Array<[number, ErrorCode]> {
  const errors: Array<[number, ErrorCode]> = [[400, 'validation_error']]; // the text rule on every path and query
  if (spec.method !== 'get') errors.push([413, 'validation_error']);
  // A bad Stripe-Signature is 400, as Stripe expects.
  if (spec.auth !== 'public' && spec.auth !== 'stripe_signature') errors.push([401, 'unauthenticated']);
  if (spec.auth === 'bearer') errors.push([429, 'rate_limited']);
  if (spec.idempotent) errors.push([400, 'idempotency_key_required'], [409, 'idempotency_key_in_flight'], [422, 'idempotency_key_reused']);
  // Every database failure, on every route that reads or writes it (an idempotent one: retry with the same key).
  if (spec.needs_database !== false) errors.push([503, 'unavailable']);
  return errors;
}

/** Status -> codes, for every problem+json answer of the route. */
function problemCodes(spec: RouteSpec): Map<number, Set<ErrorCode>> {
  const codes = new Map<number, Set<ErrorCode>>();
  const add = (status: number, code: ErrorCode) => codes.set(status, (codes.get(status) ?? new Set()).add(code));
  for (const [status, doc] of Object.entries(spec.responses)) {
    const documented = describe(doc)!;
    if (Number(status) < 400 || documented.schema) continue;
    for (const code of documented.codes ?? codesOfStatus(Number(status))) add(Number(status), code);
  }
  for (const [status, code] of implicitErrors(spec)) add(status, code);
  return codes;
}

function headerRefs(names: readonly string[], own: Record<string, string> = {}) {
  return {
    ...Object.fromEntries(names.map((name) => [name, { $ref: `${HEADERS}${name}` }])),
    ...Object.fromEntries(
      Object.entries(own).map(([name, description]) => [name, { description, required: true, schema: { type: 'string' } }]),
    ),
  };
}

function problemResponse(
  status: number,
  codes: ReadonlyArray<ErrorCode | 'internal_error'>,
  description: string,
  headers: readonly string[],
) {
  const narrowed = { type: 'object', properties: { status: { const: status }, code: { enum: codes } } };
  return {
    description,
    headers: headerRefs(status === 429 || status === 503 ? [...headers, 'Retry-After'] : headers),
    content: { [PROBLEM_TYPE]: { schema: { allOf: [{ $ref: `${SCHEMAS}Problem` }, narrowed] } } },
  };
}

function bodyResponse(spec: RouteSpec, doc: ResponseDoc, headers: readonly string[], components: SchemaComponents) {
  const content_types = doc.schema ? [JSON_TYPE] : [spec.response_content_type ?? JSON_TYPE].flat();
  const body = doc.schema ?? spec.response_schema;
  // A JSON answer without a schema documents nothing: test/api/openapi.test.ts refuses it.
  const schemaOf = (content_type: string) => (content_type !== JSON_TYPE ? { type: 'string' } : body ? components.convert(body) : {});
  const content = Object.fromEntries(content_types.map((content_type) => [content_type, { schema: schemaOf(content_type) }]));
  return { description: doc.description, headers: headerRefs(headers, doc.headers), content };
}

function responses(spec: RouteSpec, components: SchemaComponents) {
  const headers = spec.idempotent ? ['X-Region', 'X-Request-Id', 'Idempotent-Replayed'] : ['X-Region', 'X-Request-Id'];
  const answers: Record<string, unknown> = {};
  for (const [status, doc] of Object.entries(spec.responses)) {
    const documented = describe(doc)!;
    if (Number(status) < 400 || documented.schema) answers[status] = bodyResponse(spec, documented, headers, components);
  }
  for (const [status, codes] of [...problemCodes(spec)].sort(([a], [b]) => a - b)) {
    const description = describe(spec.responses[status])?.description ?? [...codes].map((code) => TITLE_BY_CODE[code]).join('; ');
    answers[status] = problemResponse(status, [...codes], description, headers);
  }
  answers['431'] = { $ref: '#/components/responses/HeadersTooLarge' };
  answers['500'] = { $ref: '#/components/responses/InternalError' };
  return answers;
}

function parameters(spec: RouteSpec, components: SchemaComponents) {
  const fromSchema = (schema: Joi.ObjectSchema | undefined, location: 'path' | 'query') => {
    if (!schema) return [];
    const converted = components.convert(schema) as { properties?: JsonObject; required?: string[] };
    return Object.entries(converted.properties ?? {}).map(([name, property]) => ({
      name,
      in: location,
      required: location === 'path' || (converted.required ?? []).includes(name),
      schema: property,
    }));
  };
  const headers = spec.idempotent ? [{ $ref: '#/components/parameters/Idempotency-Key' }] : [];
  return [
    ...fromSchema(spec.params, 'path'),
    ...fromSchema(spec.query, 'query'),
    ...headers,
    { $ref: '#/components/parameters/X-Request-Id' },
  ];
}

function operation(spec: RouteSpec, components: SchemaComponents) {
  return {
    operationId: spec.operation_id,
    summary: spec.summary,
    tags: [spec.tag],
    security: spec.auth === 'public' ? [] : [{ [spec.auth]: [] }],
    parameters: parameters(spec, components),
    ...(spec.body ? { requestBody: { required: true, content: { [JSON_TYPE]: { schema: components.convert(spec.body) } } } } : {}),
    responses: responses(spec, components),
  };
}

/** The OpenAPI 3.1 document, generated from the same route list the router is built from. */
export function buildOpenApi(routes: readonly RouteSpec[], server_url?: string) {
  const components = new SchemaComponents();
  components.convert(problemSchema);
  const paths: Record<string, Record<string, unknown>> = {};
  for (const spec of routes) {
    paths[spec.path] = { ...paths[spec.path], [spec.method]: operation(spec, components) };
  }
  const problem = (status: number, code: ErrorCode | 'internal_error', description: string, headers: string[]) =>
    problemResponse(status, [code], description, headers);
  return {
    openapi: '3.1.0',
    info: { title: 'creditshop', version: '1.0.0', description: DESCRIPTION },
    ...(server_url ? { servers: [{ url: server_url }] } : {}),
    components: {
      securitySchemes: {
        bearer: { type: 'http', scheme: 'bearer', bearerFormat: 'JWT' },
        psp_signature: {
          type: 'apiKey',
          in: 'header',
          name: 'Psp-Signature',
          description: 't=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>.<raw body>"> with PSP_WEBHOOK_SECRET',
        },
        payout_signature: {
          type: 'apiKey',
          in: 'header',
          name: 'Payout-Signature',
          description: 't=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>.<raw body>"> with PAYOUT_WEBHOOK_SECRET',
        },
        stripe_signature: {
          type: 'apiKey',
          in: 'header',
          name: 'Stripe-Signature',
          description: "Stripe's webhook signature, checked with STRIPE_WEBHOOK_SECRET (the endpoint's whsec_ signing secret)",
        },
      },
      parameters: {
        'Idempotency-Key': {
          name: 'Idempotency-Key',
          in: 'header',
          required: true,
          description: 'Chosen by the client, 1 to 255 printable ASCII characters, scoped to the caller, kept at least 24 hours',
          schema: { type: 'string', minLength: 1, maxLength: 255, pattern: '^[\\x20-\\x7E]+$' },
        },
        'X-Request-Id': {
          name: 'X-Request-Id',
          in: 'header',
          required: false,
          description: 'Echoed back and logged when it is 1 to 128 of A-Z a-z 0-9 . _ -; a new one is made otherwise',
          schema: { type: 'string' },
        },
      },
      headers: RESPONSE_HEADERS,
      responses: {
        NoRoute: problem(404, 'not_found', 'No such path', ['X-Region', 'X-Request-Id']),
        MethodNotAllowed: problem(405, 'validation_error', 'The path does not serve this method', ['X-Region', 'X-Request-Id', 'Allow']),
        // Node's HTTP parser refuses these before the app sees the request: no request id exists yet (src/pod.ts).
        HeadersTooLarge: problem(431, 'validation_error', 'Request headers over the HTTP server limit', ['X-Region']),
        // A defect, logged with the request id; nothing of the request was applied (an idempotent one may be retried).
        InternalError: problem(500, 'internal_error', 'Unexpected error', ['X-Region', 'X-Request-Id']),
      },
      schemas: components.schemas,
    },
    paths,
  };
}
