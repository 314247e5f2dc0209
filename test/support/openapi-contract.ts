import { Ajv2020, type ValidateFunction } from 'ajv/dist/2020.js';
import addFormatsModule from 'ajv-formats';

// CommonJS default export behind ESM typings.
const addFormats = addFormatsModule as unknown as typeof addFormatsModule.default;

type JsonObject = Record<string, any>;

/** An answer as it went over the wire: the status, the headers and the body text, never a handler's object. */
export interface WireAnswer {
  method: string;
  /** The request path, with or without its query string. */
  path: string;
  status: number;
  headers: Headers;
  text: string;
}

interface PathRoute {
  template: string;
  pattern: RegExp;
  operations: Record<string, JsonObject>;
}

// The components get an id of their own so that every `#/components/schemas/...` can point into them.
const COMPONENTS_ID = 'urn:creditshop:openapi:components';
const LOCAL_SCHEMAS = '#/components/schemas/';

function pointIntoComponents(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(pointIntoComponents);
  if (value === null || typeof value !== 'object') return value;
  return Object.fromEntries(
    Object.entries(value).map(([key, inner]) =>
      key === '$ref' && typeof inner === 'string' && inner.startsWith(LOCAL_SCHEMAS)
        ? [key, `${COMPONENTS_ID}#/$defs/${inner.slice(LOCAL_SCHEMAS.length)}`]
        : [key, pointIntoComponents(inner)],
    ),
  );
}

/** Like the router (@koa/router): parameters stop at '/', case-insensitive, an optional trailing slash. */
function templatePattern(template: string): RegExp {
  const escaped = template.replace(/[.*+?^$()|[\]\\]/g, '\\$&').replace(/\{[^}]+\}/g, '[^/]+');
  return new RegExp(`^${escaped}/?$`, 'i');
}

const mediaType = (content_type: string | null) => (content_type ?? '').split(';')[0]!.trim().toLowerCase();
const isJson = (media_type: string) => media_type === 'application/json' || media_type.endsWith('+json');

/**
 * /openapi.json as a checker of real answers: the operation must document the status, the answer
 * must carry the documented headers and content type, and a JSON body must validate (JSON Schema
 * 2020-12, ajv strict mode). A path the document does not know must be answered 404, a method it
 * does not document on a known path 405, as components.responses says.
 */
export class OpenApiContract {
  private readonly ajv = new Ajv2020({ strict: true, allErrors: true, allowUnionTypes: true });
  private readonly routes: PathRoute[];
  private readonly validators = new WeakMap<object, ValidateFunction>();
  /** `operationId status` of every answer that passed, to see what a test run covered. */
  readonly passed = new Set<string>();

  constructor(private readonly document: JsonObject) {
    addFormats(this.ajv);
    this.ajv.addSchema({ $id: COMPONENTS_ID, $defs: pointIntoComponents(document['components']['schemas']) as JsonObject });
    this.routes = Object.entries(document['paths'] as Record<string, Record<string, JsonObject>>)
      .map(([template, operations]) => ({ template, pattern: templatePattern(template), operations }))
      // A literal segment wins over a parameter, as in the router.
      .sort((a, b) => (a.template.match(/\{/g)?.length ?? 0) - (b.template.match(/\{/g)?.length ?? 0));
  }

  /** Every way the answer departs from the document; empty when it is as documented. */
  check(answer: WireAnswer): string[] {
    const path = answer.path.split('?')[0]!;
    const route = this.routes.find((candidate) => candidate.pattern.test(path));
    const operation = route?.operations[answer.method.toLowerCase()];
    if (!route || !operation) {
      const [name, expected_status] = route ? ['MethodNotAllowed', 405] : ['NoRoute', 404];
      if (answer.status !== expected_status) {
        return [route ? `${answer.method} is not documented on ${route.template}` : `${path} is not a documented path`];
      }
      return this.checkResponse(this.component(`#/components/responses/${name}`), answer);
    }
    const documented = operation['responses'][String(answer.status)];
    const response = documented?.['$ref'] ? this.component(documented['$ref']) : documented;
    if (!response) return [`${operation['operationId']} does not document status ${answer.status}`];
    const problems = this.checkResponse(response, answer);
    if (problems.length === 0) this.passed.add(`${operation['operationId']} ${answer.status}`);
    return problems;
  }

  private checkResponse(response: JsonObject, answer: WireAnswer): string[] {
    return [...this.checkHeaders(response, answer.headers), ...this.checkBody(response, answer)];
  }

  private checkHeaders(response: JsonObject, headers: Headers): string[] {
    const problems: string[] = [];
    for (const [name, declared] of Object.entries((response['headers'] ?? {}) as Record<string, JsonObject>)) {
      const header = declared['$ref'] ? this.component(declared['$ref']) : declared;
      const value = headers.get(name);
      if (value === null) {
        if (header['required']) problems.push(`header ${name} is missing`);
        continue;
      }
      const validate = this.validator(header['schema']);
      if (!validate(value)) problems.push(`header ${name}: ${this.ajv.errorsText(validate.errors)}`);
    }
    return problems;
  }

  private checkBody(response: JsonObject, answer: WireAnswer): string[] {
    const content = (response['content'] ?? {}) as Record<string, JsonObject>;
    const media_type = mediaType(answer.headers.get('content-type'));
    const documented = content[media_type];
    if (!documented) return [`content type "${media_type}" is not documented (${Object.keys(content).join(', ') || 'no body'})`];
    let body: unknown = answer.text;
    if (isJson(media_type)) {
      try {
        body = JSON.parse(answer.text);
      } catch {
        return [`the body is not JSON: ${answer.text.slice(0, 200)}`];
      }
    }
    const validate = this.validator(documented['schema']);
    if (validate(body)) return [];
    return [`the body does not match its schema: ${this.ajv.errorsText(validate.errors)}; body: ${answer.text.slice(0, 500)}`];
  }

  /** A component by its local reference (`#/components/responses/NoRoute`). */
  private component(ref: string): JsonObject {
    const [, , kind, name] = ref.split('/');
    const found = this.document['components'][kind!]?.[name!];
    if (!found) throw new Error(`/openapi.json refers to ${ref}, which it does not define`);
    return found;
  }

  private validator(schema: JsonObject): ValidateFunction {
    let validate = this.validators.get(schema);
    if (!validate) {
      validate = this.ajv.compile(pointIntoComponents(schema) as JsonObject);
      this.validators.set(schema, validate);
    }
    return validate;
  }
}

const contracts = new Map<string, Promise<OpenApiContract>>();
const violations: string[] = [];

/** The contract a server publishes, fetched once per base URL (a failed fetch is tried again next time). */
export function contractOf(base: string): Promise<OpenApiContract> {
  let contract = contracts.get(base);
  if (!contract) {
    contract = fetch(`${base}/openapi.json`).then(async (response) => {
      if (response.status !== 200) throw new Error(`${base} serves no /openapi.json (${response.status})`);
      return new OpenApiContract(await response.json());
    });
    contracts.set(base, contract);
    contract.catch(() => contracts.delete(base));
  }
  return contract;
}

/** Keeps what is wrong with an answer for takeContractViolations (test/support/contract-setup.ts fails the test on it). */
export function recordViolations(contract: OpenApiContract, answer: WireAnswer): void {
  for (const problem of contract.check(answer)) violations.push(`${answer.method} ${answer.path} -> ${answer.status}: ${problem}`);
}

export function takeContractViolations(): string[] {
  return violations.splice(0);
}
