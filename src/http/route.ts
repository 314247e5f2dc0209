import { Stream } from 'node:stream';
import type Router from '@koa/router';
import Joi from 'joi';
import { DomainError, type ErrorCode } from '../domain/errors.js';
import { UUID_PATTERN } from '../domain/ids.js';
import type { Actor } from '../auth/tokens.js';
import type { RequestIdempotency } from '../batch/operation.js';
import { requestFingerprint } from '../idempotency/fingerprint.js';
import { REMEMBERED_FAILURES } from '../idempotency/remembered-failures.js';
import { storedAnswer } from '../idempotency/stored-answer.js';
import type { AppContext, AppState } from './app-context.js';
import { refuseUnacceptableInput, requestBody } from './middleware.js';
import { jsonText } from '../platform/json-text.js';
import { PROBLEM_CONTENT_TYPE, problemFor } from './problem.js';
import { accountParams, pageSchema, textSchema, uuidParams } from './routes/schemas.js';
import { signedBody, type SignedBody } from '../shop/topups/psp-signature.js';

export type Auth = 'public' | 'bearer' | 'psp_signature' | 'stripe_signature' | 'payout_signature';

/** Partner callbacks signed over their exact bytes: their body is read raw. */
const SIGNED_CALLBACKS: ReadonlySet<Auth> = new Set<Auth>(['psp_signature', 'stripe_signature', 'payout_signature']);

export interface RouteInput<P, Q, B> {
  params: P;
  query: Q;
  body: B;
  /** Set for bearer routes. */
  actor: Actor;
  /** Set for idempotent routes. */
  idempotency: RequestIdempotency;
}

export interface RouteResult {
  status: number;
  body: unknown;
  replayed?: boolean;
  headers?: Record<string, string>;
}

/** One documented status of a route, when a description alone does not say enough. */
export interface ResponseDoc {
  description: string;
  /** Error statuses: the codes this route answers with (default: every code of the status but the Idempotency-Key ones). */
  codes?: readonly ErrorCode[];
  /** A JSON body of its own: for a success status instead of `response_schema`, for an error status instead of problem+json. */
  schema?: Joi.Schema;
  /** Headers of this answer: name -> description. */
  headers?: Record<string, string>;
}

// biome-ignore lint/suspicious/noExplicitAny: one route table holds specs of many input types; each spec is typed where it is defined
export interface RouteSpec<P = any, Q = any, B = any> {
  operation_id: string;
  method: 'get' | 'post' | 'put' | 'patch' | 'delete';
  /** OpenAPI path template, e.g. /v1/accounts/{id}. */
  path: string;
  summary: string;
  tag: string;
  auth: Auth;
  params?: Joi.ObjectSchema<P>;
  query?: Joi.ObjectSchema<Q>;
  body?: Joi.ObjectSchema<B>;
  /** Requires Idempotency-Key; the response is stored and replayed (SPEC §4). */
  idempotent?: { success_status: number };
  /**
   * Documented responses: status -> description (errors are problem+json). /openapi.json adds what
   * every route of its kind answers (src/http/openapi.ts implicitErrors).
   */
  responses: Record<number, string | ResponseDoc>;
  /** The body of every success status (views export theirs: e.g. transactionViewSchema). */
  response_schema?: Joi.Schema;
  /** Media type of the success answers when they are not JSON (their body is then text); several when a query picks it. */
  response_content_type?: string | readonly string[];
  /** False for routes that answer without the database: they never answer 503 `unavailable`. */
  needs_database?: false;
  /**
   * Idempotent routes: how an answer of the write path goes out (a secret revealed, a header
   * added), the handler's and one stored under its key alike, so a replay is the same bytes and
   * headers whichever way it comes back (a refused retry gets the stored answer too).
   */
  present?: (deps: Deps, answer: RouteResult) => RouteResult;
  handler: (ctx: AppContext, input: RouteInput<P, Q, B>) => Promise<RouteResult>;
}

export function defineRoute<P, Q, B>(spec: RouteSpec<P, Q, B>): RouteSpec<P, Q, B> {
  return spec;
}

/** GET one resource by its server-made id, for a bearer who may see it (404 otherwise). */
export function readByIdRoute(spec: {
  operation_id: string;
  path: string;
  summary: string;
  tag: string;
  read: (deps: AppContext['state']['deps'], actor: Actor, id: string) => Promise<unknown>;
  response_schema: Joi.Schema;
}): RouteSpec {
  return defineRoute({
    operation_id: spec.operation_id,
    method: 'get',
    path: spec.path,
    summary: spec.summary,
    tag: spec.tag,
    auth: 'bearer',
    params: uuidParams,
    responses: { 200: spec.summary, 400: 'Malformed id', 401: 'Unauthenticated', 403: 'Forbidden', 404: 'Not found' },
    response_schema: spec.response_schema,
    handler: async (ctx, { actor, params }) => ({ status: 200, body: await spec.read(ctx.state.deps, actor, params.id) }),
  });
}

/** GET a page of what an account owns, newest first: for its owner, or a service that reads money. */
export function accountPageRoute<Q extends { limit: number; cursor?: string }>(spec: {
  operation_id: string;
  /** The list under /v1/accounts/{id}/. */
  list: string;
  summary: string;
  tag: string;
  query: Joi.ObjectSchema<Q>;
  /** Name of the page in /openapi.json, and the schema of one item. */
  page: [string, Joi.Schema];
  read: (deps: AppContext['state']['deps'], actor: Actor, account_id: string, query: Q) => Promise<unknown>;
}): RouteSpec {
  return defineRoute({
    operation_id: spec.operation_id,
    method: 'get',
    path: `/v1/accounts/{id}/${spec.list}`,
    summary: spec.summary,
    tag: spec.tag,
    auth: 'bearer',
    params: accountParams,
    query: spec.query,
    responses: { 200: `A page of ${spec.list}`, 400: 'Invalid query', 401: 'Unauthenticated', 403: 'Forbidden', 404: 'No such account' },
    response_schema: pageSchema(...spec.page),
    handler: async (ctx, { actor, params, query }) => ({ status: 200, body: await spec.read(ctx.state.deps, actor, params.id, query) }),
  });
}

/** GET a page of what waits for an operator, newest first (admin). */
export function reviewQueueRoute(spec: {
  operation_id: string;
  path: string;
  summary: string;
  tag: string;
  query: Joi.ObjectSchema<{ limit: number; cursor?: string }>;
  page: [string, Joi.Schema];
  read: (deps: AppContext['state']['deps'], actor: Actor, query: { limit: number; cursor?: string }) => Promise<unknown>;
}): RouteSpec {
  const { page, read, ...documented } = spec;
  return defineRoute({
    ...documented,
    method: 'get',
    auth: 'bearer',
    responses: { 200: 'A page, newest first', 400: 'Invalid query', 401: 'Unauthenticated', 403: 'Requires admin' },
    response_schema: pageSchema(...page),
    handler: async (ctx, { actor, query }) => ({ status: 200, body: await read(ctx.state.deps, actor, query) }),
  });
}

// Body validation never coerces types (a "100" is not an amount); path and query strings are
// converted because they only ever arrive as text.
const BODY_OPTIONS: Joi.ValidationOptions = { convert: false, allowUnknown: false, abortEarly: false, presence: 'optional' };
const TEXT_OPTIONS: Joi.ValidationOptions = { convert: true, allowUnknown: false, abortEarly: false };
const IDEMPOTENCY_KEY_PATTERN = /^[\x20-\x7E]{1,255}$/;
const NOTHING = Joi.object({});

/**
 * A keyed request refused before it reached the write path (its input, its account, a rule checked
 * first) answers what its key has stored, if anything: a retry of a request that ran gets its
 * answer, another request under the key 422 `idempotency_key_reused`. Looked up on such refusals
 * only: a request that runs finds its key in its batch.
 */
async function runOrReplay(ctx: AppContext, idempotency: RequestIdempotency, run: () => Promise<RouteResult>): Promise<RouteResult> {
  try {
    return await run();
  } catch (error) {
    // Never for a caller refused its permission (a token without the scope): it learns nothing of what the key holds.
    const refused =
      error instanceof Joi.ValidationError ||
      (error instanceof DomainError && REMEMBERED_FAILURES.has(error.code) && error.code !== 'forbidden');
    if (!refused) throw error;
    const stored = await storedAnswer(ctx.state.deps, idempotency);
    if (!stored) throw error;
    return stored;
  }
}

function validate<T>(schema: Joi.Schema<T> | undefined, value: unknown): T {
  if (!schema) return value as T;
  const { value: validated, error } = schema.validate(value);
  if (error) throw error;
  return validated;
}

async function authenticate(ctx: AppContext): Promise<Actor> {
  // The scheme's name is case-insensitive (RFC 7235 §2.1): `bearer …` is a bearer token too.
  const match = /^Bearer +([^\s]+)$/i.exec(ctx.get('Authorization'));
  let actor: Actor;
  try {
    if (!match?.[1]) throw new DomainError('unauthenticated', 'missing bearer token');
    actor = ctx.state.deps.tokens.verify(match[1]);
  } catch (error) {
    // A 401 names the scheme it wants (RFC 7235 §3.1, RFC 6750 §3).
    if (error instanceof DomainError && error.code === 'unauthenticated') ctx.set('WWW-Authenticate', 'Bearer realm="creditshop"');
    throw error;
  }
  ctx.state.actor = actor;
  ctx.state.deps.rate_limiter.take(`${actor.kind}:${actor.id}`);
  return actor;
}

function idempotencyScope(ctx: AppContext, actor: Actor | undefined, success_status: number, body: unknown): RequestIdempotency {
  const key = ctx.get('Idempotency-Key');
  if (key === '') throw new DomainError('idempotency_key_required', 'this request needs an Idempotency-Key header');
  // Node joins repeated headers with ", ": two keys read as one third key, which neither retry would name.
  if ((ctx.req.headersDistinct['idempotency-key']?.length ?? 0) > 1) {
    throw new DomainError('validation_error', 'send one Idempotency-Key header, not several');
  }
  if (!IDEMPOTENCY_KEY_PATTERN.test(key)) {
    throw new DomainError('validation_error', 'Idempotency-Key must be 1 to 255 printable ASCII characters');
  }
  return {
    caller: actor ? `${actor.kind}:${actor.id}` : 'anonymous',
    key,
    fingerprint: requestFingerprint(
      ctx.method,
      ctx.path.replace(UUID_IN_PATH, (uuid) => uuid.toLowerCase()),
      body ?? null,
    ),
    success_status,
    renderFailure: (error) => {
      const problem = problemFor(error.code, error.detail, error.extensions);
      return { status: problem.status, body: JSON.stringify({ ...problem, request_id: ctx.state.request_id }) };
    },
  };
}

// UUIDs in a path are read in any case (uuidSchema): a retry naming the object in the other case is the same request.
const UUID_IN_PATH = new RegExp(UUID_PATTERN.source.replace(/^\^|\$$/g, ''), 'gi');

function toRouterPath(path: string): string {
  return path.replace(/\{([a-z_]+)\}/g, ':$1');
}

/**
 * Every route reads its body through requestBody and has its path and query strings checked by
 * the same text rule before anything else, so no route can forget either. Signed callbacks get
 * their body raw: they verify the signature over the exact bytes before judging them.
 */
export function mountRoutes(router: Router<AppState>, routes: readonly RouteSpec[]): void {
  for (const spec of routes) {
    const body_mode = SIGNED_CALLBACKS.has(spec.auth) ? 'raw' : 'json';
    // An API route that declares no query or body takes none: an unknown parameter or field is
    // 400 there as everywhere else (SPEC §4). Pages the pod serves to browsers are left alone.
    const none = spec.path.startsWith('/v1/') && body_mode === 'json' ? NOTHING : undefined;
    // Options compiled into the schemas once: given to validate(), Joi merges them on every call.
    const schemas = {
      params: spec.params?.prefs(TEXT_OPTIONS),
      query: (spec.query ?? none)?.prefs(TEXT_OPTIONS),
      body: (spec.body ?? none)?.prefs(BODY_OPTIONS),
    };
    router[spec.method](spec.operation_id, toRouterPath(spec.path), requestBody(body_mode), async (ctx) => {
      const context = ctx as AppContext;
      const { body_depth_max } = context.state.deps.config.limits;
      refuseUnacceptableInput({ ...context.params }, 'path', body_depth_max);
      refuseUnacceptableInput({ ...context.query }, 'query', body_depth_max);
      const actor = spec.auth === 'bearer' ? await authenticate(context) : undefined;
      const idempotency = spec.idempotent
        ? idempotencyScope(context, actor, spec.idempotent.success_status, context.state.body)
        : undefined;
      const run = async (): Promise<RouteResult> => {
        const params = validate(schemas.params, { ...context.params });
        const query = validate(schemas.query, { ...context.query });
        // No body is an empty object; a JSON `null` is a body, and not an object.
        const body = validate(schemas.body, context.state.body === undefined && spec.body ? {} : context.state.body);
        return spec.handler(context, { params, query, body, actor: actor as Actor, idempotency: idempotency as RequestIdempotency });
      };
      const answered = idempotency ? await runOrReplay(context, idempotency, run) : await run();
      const result = spec.present ? spec.present(context.state.deps, answered) : answered;
      context.status = result.status;
      // A stored answer travels as the exact bytes first sent (SPEC §4: replayed byte for byte).
      if (typeof result.body === 'string') {
        context.body = result.body;
        context.type = result.status >= 400 ? PROBLEM_CONTENT_TYPE : 'application/json';
      } else if (isJsonView(result.body)) {
        context.body = jsonText(result.body);
        context.type = 'application/json';
      } else context.body = result.body;
      if (result.replayed) context.set('Idempotent-Replayed', 'true');
      for (const [name, value] of Object.entries(result.headers ?? {})) context.set(name, value);
    });
  }
}

/** What Koa would write as JSON itself: any object but a stream (exports) or bytes. */
function isJsonView(body: unknown): boolean {
  return typeof body === 'object' && body !== null && !(body instanceof Stream) && !Buffer.isBuffer(body);
}

type Deps = AppContext['state']['deps'];

/**
 * A payment partner's signed callback (PSP events, payout events): the route hands the raw body
 * and the signature header to `receive`, which verifies it over the exact bytes; every validly
 * signed body answers 200, whatever it says.
 */
export function signedCallbackRoute(spec: {
  operation_id: string;
  path: string;
  summary: string;
  tag: string;
  auth: 'psp_signature' | 'payout_signature';
  signature_header: string;
  receive: (deps: Deps, body: SignedBody, signature: string) => Promise<unknown>;
  response_schema: Joi.Schema;
}): RouteSpec {
  return defineRoute({
    operation_id: spec.operation_id,
    method: 'post',
    path: spec.path,
    summary: spec.summary,
    tag: spec.tag,
    auth: spec.auth,
    responses: { 200: '{ received, outcome }', 401: 'Bad, stale or missing signature', 413: 'Body over the size limit' },
    response_schema: spec.response_schema,
    handler: async (ctx) => ({
      status: 200,
      body: await spec.receive(ctx.state.deps, signedBodyOf(ctx), ctx.get(spec.signature_header)),
    }),
  });
}

/** The exact bytes of a signed callback as requestBody('raw') kept them (none for a request without a body). */
export function signedBodyOf(ctx: AppContext): SignedBody {
  return ctx.state.signed_body ?? signedBody(Buffer.alloc(0));
}

/**
 * Settling a partner's event held for review (admin): {id} is its log_id, the note says what was
 * done. Nothing moves; reconciliation stops reporting it.
 */
export function reviewSettlementRoute(spec: {
  operation_id: string;
  path: string;
  summary: string;
  tag: string;
  settle: (deps: Deps, actor: Actor, log_id: string, settlement: string) => Promise<unknown>;
  response_schema: Joi.Schema;
}): RouteSpec {
  return defineRoute({
    operation_id: spec.operation_id,
    method: 'put',
    path: spec.path,
    summary: spec.summary,
    tag: spec.tag,
    auth: 'bearer',
    params: Joi.object({ id: Joi.string().min(1).max(300).required() }),
    body: Joi.object({ settlement: textSchema(1000).required() }),
    responses: {
      200: 'The settled review item',
      400: 'Invalid request',
      401: 'Unauthenticated',
      403: 'Forbidden',
      404: 'No such event',
      409: { description: 'The event is not held for review', codes: ['invalid_state'] },
    },
    response_schema: spec.response_schema,
    handler: async (ctx, { actor, params, body }) => ({
      status: 200,
      body: await spec.settle(ctx.state.deps, actor, params.id as string, body.settlement as string),
    }),
  });
}
