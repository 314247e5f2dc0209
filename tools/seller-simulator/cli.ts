import { parseArgs } from 'node:util';
import { generateSellers, startSellerSimulator, type ResolvedSellerSpec, type SellerSimulator } from './seller-simulator.js';
import { closeOnSignal } from '../stop-on-signal.js';

const USAGE = `usage: tsx tools/seller-simulator/cli.ts [--count 20] [--port 4000] [--host 127.0.0.1] [--seed 42]
       [--products book-1,game-key-7] [--window-ms 60000]
stdout: one JSON line per seller (its registry body plus "id"); stderr: how to register them.`;

// Suggested client timeout per seller: twice its p99, within sane bounds.
const TIMEOUT_MIN_MS = 1000;
const TIMEOUT_MAX_MS = 10_000;

interface CliOptions {
  count: number;
  port: number;
  host: string;
  seed: number;
  products: string[];
  window_ms: number;
}

function integerArg(name: string, text: string): number {
  if (!/^-?\d+$/.test(text)) throw new TypeError(`--${name} must be an integer, got '${text}'`);
  return Number(text);
}

function parseCli(argv: string[]): CliOptions {
  const { values } = parseArgs({
    args: argv,
    options: {
      count: { type: 'string', default: '20' },
      port: { type: 'string', default: '4000' },
      host: { type: 'string', default: '127.0.0.1' },
      seed: { type: 'string', default: '42' },
      products: { type: 'string', default: 'book-1,game-key-7' },
      'window-ms': { type: 'string', default: '60000' },
    },
  });
  return {
    count: integerArg('count', values.count),
    port: integerArg('port', values.port),
    host: values.host,
    seed: integerArg('seed', values.seed),
    products: values.products
      .split(',')
      .map((product) => product.trim())
      .filter(Boolean),
    window_ms: integerArg('window-ms', values['window-ms']),
  };
}

function registryBody(spec: ResolvedSellerSpec, base_url: string) {
  return {
    base_url,
    rate_limit_per_minute: spec.rate_limit_per_minute,
    timeout_ms: Math.min(TIMEOUT_MAX_MS, Math.max(TIMEOUT_MIN_MS, 2 * spec.latency_ms.p99)),
    supports_holds: spec.supports_holds,
    active: true,
  };
}

function printSellers(simulator: SellerSimulator): void {
  for (const id of simulator.sellerIds()) {
    process.stdout.write(`${JSON.stringify({ id, ...registryBody(simulator.spec(id), simulator.baseUrl(id)) })}\n`);
  }
}

function printHowToRegister(simulator: SellerSimulator, options: CliOptions): void {
  const first = simulator.sellerIds()[0] ?? 'seller-001';
  const body = JSON.stringify(registryBody(simulator.spec(first), simulator.baseUrl(first)));
  const put = `curl -sS -X PUT "$API/v1/sellers/$id" -H "Authorization: Bearer $ADMIN_TOKEN" -H 'Content-Type: application/json'`;
  process.stderr.write(
    [
      `seller simulator: ${options.count} sellers at ${simulator.url}/sellers/<id> (seed ${options.seed}, ` +
        `products ${options.products.join(',')}, rate window ${options.window_ms} ms)`,
      `directory: curl ${simulator.url}/sellers`,
      'register one seller (API=http://127.0.0.1:3001, ADMIN_TOKEN=a service JWT with scope "admin"):',
      `  id=${first}; ${put} -d '${body}'`,
      'register all: save stdout (npm run -s sellers -- ... > sellers.jsonl), then',
      `  while read -r line; do id=$(jq -r .id <<<"$line"); ${put} -d "$(jq -c 'del(.id)' <<<"$line")"; done < sellers.jsonl`,
      'Ctrl-C stops it.',
      '',
    ].join('\n'),
  );
}

async function main(): Promise<void> {
  const options = parseCli(process.argv.slice(2));
  const sellers = generateSellers({ count: options.count, seed: options.seed, product_ids: options.products });
  const simulator = await startSellerSimulator({
    host: options.host,
    port: options.port,
    sellers,
    window_ms: options.window_ms,
    seed: options.seed,
  });
  printSellers(simulator);
  printHowToRegister(simulator, options);
  closeOnSignal(simulator);
}

main().catch((error: unknown) => {
  process.stderr.write(`${error instanceof Error ? error.message : String(error)}\n${USAGE}\n`);
  process.exit(2);
});
