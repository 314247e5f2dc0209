// npm run db:regions -- --print [--database shop] [--topology regions/regions.json]
//
// Prints the CockroachDB multi-region DDL generated from regions/regions.json and
// src/db/cockroach/table-localities.ts. It does not apply anything: `npm run migrate` with
// DB_DIALECT=cockroach applies the same statements (database phase before the migrations,
// table phase after them).

import { parseArgs } from 'node:util';
import { renderMultiRegionDdl } from '../db/cockroach/multi-region-ddl.js';
import { loadTopology } from '../platform/regions.js';

const USAGE = `usage: npm run db:regions -- --print [--database <name>] [--topology <file>]

  --print            print the multi-region DDL (CockroachDB only) to stdout
  --database <name>  database name used in ALTER DATABASE (default: shop)
  --topology <file>  region topology file (default: regions/regions.json)

This command only prints. To apply the DDL, run the migrations against CockroachDB:
  DATABASE_URL=postgresql://root@<node>:26257/shop?sslmode=disable DB_DIALECT=cockroach npm run migrate
`;

function main(argv: string[]): number {
  let values: { print?: boolean; database?: string; topology?: string; help?: boolean };
  try {
    ({ values } = parseArgs({
      args: argv,
      options: {
        print: { type: 'boolean' },
        database: { type: 'string' },
        topology: { type: 'string' },
        help: { type: 'boolean', short: 'h' },
      },
      strict: true,
      allowPositionals: false,
    }));
  } catch (error) {
    process.stderr.write(`${error instanceof Error ? error.message : String(error)}\n\n${USAGE}`);
    return 2;
  }
  if (values.help) {
    process.stdout.write(USAGE);
    return 0;
  }
  if (!values.print) {
    process.stderr.write(USAGE);
    return 2;
  }
  const database = values.database ?? 'shop';
  const topology = values.topology === undefined ? loadTopology() : loadTopology(values.topology);
  process.stdout.write(renderMultiRegionDdl(topology, database));
  return 0;
}

try {
  process.exitCode = main(process.argv.slice(2));
} catch (error) {
  process.stderr.write(`db:regions: ${error instanceof Error ? error.message : String(error)}\n`);
  process.exitCode = 1;
}
