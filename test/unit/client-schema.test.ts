import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { CLIENT_SCHEMA_FILE, clientSchemaPath, defaultOpenApiDocument, generateClientSchema } from '../../tools/client/generate.js';

// The typed client's schema is generated from the route table and kept in the repository: a route,
// a joi schema or a view that changes without `npm run client:generate` fails here.

/** Where two texts first differ, as "line N: committed / generated", to say what went stale. */
function firstDifference(committed: string, generated: string): string {
  const [old_lines, new_lines] = [committed.split('\n'), generated.split('\n')];
  const line = old_lines.findIndex((text, index) => text !== new_lines[index]);
  const at = line === -1 ? old_lines.length : line;
  return `line ${at + 1}: committed ${JSON.stringify(old_lines[at])}, generated ${JSON.stringify(new_lines[at])}`;
}

describe('the generated client schema', () => {
  it(`${CLIENT_SCHEMA_FILE} is what the route table generates now (else: npm run client:generate)`, async () => {
    const committed = readFileSync(clientSchemaPath(), 'utf8');
    const generated = await generateClientSchema();
    expect(generated === committed, `${CLIENT_SCHEMA_FILE} is stale: ${firstDifference(committed, generated)}`).toBe(true);
  });

  it('goes stale when a schema of the document changes: a field added to Problem is a difference', async () => {
    const document = defaultOpenApiDocument();
    const problem = document.components.schemas['Problem'] as { properties: Record<string, unknown> };
    problem.properties['hint'] = { type: 'string' };
    const generated = await generateClientSchema(document);
    expect(generated).not.toBe(readFileSync(clientSchemaPath(), 'utf8'));
    expect(generated).toContain('hint?: string;');
  });
});
