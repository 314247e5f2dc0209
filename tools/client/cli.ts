import { writeFile } from 'node:fs/promises';
import { CLIENT_SCHEMA_FILE, clientSchemaPath, generateClientSchema } from './generate.js';

// `npm run client:generate`: writes the typed client's schema from the route table (no pod needed).
await writeFile(clientSchemaPath(), await generateClientSchema());
process.stdout.write(`wrote ${CLIENT_SCHEMA_FILE}\n`);
