import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, it, expect } from 'vitest';
import { parse } from 'yaml';
import { loadTopology, type Topology } from '../../src/platform/regions.js';
import {
  applyMultiRegionDdl,
  databaseRegionStatements,
  quoteIdent,
  renderMultiRegionDdl,
  tableLocalityStatements,
} from '../../src/db/cockroach/multi-region-ddl.js';
import { TABLE_LOCALITIES, localizedTables } from '../../src/db/cockroach/table-localities.js';

const COMPOSE_FILE = fileURLToPath(new URL('../../docker-compose.cockroach.yml', import.meta.url));
const topology = loadTopology();

interface ComposeService {
  image?: string;
  command?: string | string[];
  entrypoint?: string | string[];
  environment?: Record<string, string | number | boolean | null> | string[];
  ports?: Array<string | number | { target?: number; published?: number | string }>;
  depends_on?: string[] | Record<string, { condition?: string }>;
  healthcheck?: { test?: string | string[] };
}

const compose = parse(readFileSync(COMPOSE_FILE, 'utf8')) as { services?: Record<string, ComposeService> };
const services: Record<string, ComposeService> = compose.services ?? {};

function commandText(service: ComposeService): string {
  const parts = [service.entrypoint, service.command].flatMap((part) => (part === undefined ? [] : Array.isArray(part) ? part : [part]));
  return parts.join(' ');
}

function env(service: ComposeService): Record<string, string> {
  const raw = service.environment ?? {};
  if (Array.isArray(raw)) {
    return Object.fromEntries(
      raw.map((entry) => {
        const at = entry.indexOf('=');
        return at < 0 ? [entry, ''] : [entry.slice(0, at), entry.slice(at + 1)];
      }),
    );
  }
  return Object.fromEntries(Object.entries(raw).map(([key, value]) => [key, value === null ? '' : String(value)]));
}

/** [published host port, container port] pairs. */
function publishedPorts(service: ComposeService): Array<[number, number]> {
  return (service.ports ?? []).map((port) => {
    if (typeof port === 'object') return [Number(port.published), Number(port.target)];
    const parts = String(port).split(':');
    const container = Number(parts[parts.length - 1]);
    const host = parts.length >= 2 ? Number(parts[parts.length - 2]) : container;
    return [host, container];
  });
}

function dependsOn(service: ComposeService): Record<string, string | undefined> {
  const raw = service.depends_on ?? {};
  if (Array.isArray(raw)) return Object.fromEntries(raw.map((name) => [name, undefined]));
  return Object.fromEntries(Object.entries(raw).map(([name, spec]) => [name, spec.condition]));
}

function isCockroachImage(service: ComposeService): boolean {
  return (service.image ?? '').startsWith('cockroachdb/cockroach');
}

/** Node services: cockroach image running `start`, with the region of their --locality. */
const nodes = Object.entries(services)
  .filter(([, service]) => isCockroachImage(service) && /(^|\s)start(\s|$)/.test(commandText(service)))
  .map(([name, service]) => {
    const command = commandText(service);
    return {
      name,
      service,
      command,
      region: /--locality=region=([^,\s]+)/.exec(command)?.[1],
      zone: /--locality=[^\s]*zone=([^,\s]+)/.exec(command)?.[1],
    };
  });
const nodeNames = new Set(nodes.map((node) => node.name));

describe('docker-compose.cockroach.yml matches regions/regions.json', () => {
  it('has at least one node per region, started with that region and its first zone', () => {
    expect(nodes.length).toBeGreaterThanOrEqual(topology.regions.length);
    for (const region of topology.regions) {
      const inRegion = nodes.filter((node) => node.region === region.name);
      expect(inRegion.length, `nodes in ${region.name}`).toBeGreaterThanOrEqual(1);
      for (const node of inRegion) {
        expect(node.command).toContain(`--locality=region=${region.name},zone=`);
        expect(region.zones).toContain(node.zone);
      }
      expect(inRegion.map((node) => node.zone)).toContain(region.zones[0]);
    }
    // and no node claims a region that regions.json does not know
    const known = topology.regions.map((region) => region.name);
    for (const node of nodes) expect(known, `region of ${node.name}`).toContain(node.region);
  });

  it('names the one-node-per-region nodes roach-<region>', () => {
    for (const region of topology.regions) {
      expect(nodeNames.has(`roach-${region.name}`), `roach-${region.name}`).toBe(true);
    }
  });

  it('makes every node join all nodes and advertise its own service name', () => {
    for (const node of nodes) {
      const join = /--join=(\S+)/.exec(node.command)?.[1];
      expect(join, `--join of ${node.name}`).toBeDefined();
      const targets = (join ?? '').split(',');
      for (const target of targets) expect(target).toMatch(/^[a-z0-9-]+:26257$/);
      expect(new Set(targets.map((target) => target.split(':')[0]))).toEqual(nodeNames);
      expect(node.command).toContain(`--advertise-addr=${node.name}:26257`);
      expect(node.command).toContain('--insecure');
      expect(node.command).toContain('--http-addr=0.0.0.0:8080');
      expect(node.service.healthcheck?.test, `healthcheck of ${node.name}`).toBeDefined();
    }
  });

  it('pins the CockroachDB image to one exact version', () => {
    const images = Object.values(services)
      .filter(isCockroachImage)
      .map((service) => service.image ?? '');
    expect(images.length).toBeGreaterThanOrEqual(topology.regions.length + 1);
    for (const image of images) {
      expect(image).toMatch(/^cockroachdb\/cockroach:v\d+\.\d+\.\d+$/);
      expect(image).not.toContain('latest');
    }
    expect(new Set(images)).toEqual(new Set(['cockroachdb/cockroach:v26.2.1']));
  });

  it('has a one-shot init that initialises the cluster and creates the shop database', () => {
    const init = services.init;
    expect(init).toBeDefined();
    const command = commandText(init ?? {});
    expect(command).toMatch(/cockroach init --insecure --host=roach-[a-z-]+:26257/);
    const host = /cockroach init --insecure --host=([a-z0-9-]+):26257/.exec(command)?.[1];
    expect(nodeNames.has(host ?? '')).toBe(true);
    expect(command).toContain('already been initialized');
    expect(command).toContain('CREATE DATABASE IF NOT EXISTS shop');
  });

  it('runs migrate after init, against CockroachDB', () => {
    const migrate = services.migrate;
    expect(migrate).toBeDefined();
    expect(commandText(migrate ?? {})).toContain('npm run migrate');
    expect(dependsOn(migrate ?? {}).init).toBe('service_completed_successfully');
    expect(env(migrate ?? {}).DB_DIALECT).toBe('cockroach');
    const url = new URL(env(migrate ?? {}).DATABASE_URL ?? '');
    expect(nodeNames.has(url.hostname)).toBe(true);
    expect(url.pathname).toBe('/shop');
  });

  for (const region of topology.regions) {
    it(`runs pod-${region.name} on port ${region.port} against a ${region.name} node`, () => {
      const pod = services[`pod-${region.name}`];
      expect(pod).toBeDefined();
      const podEnv = env(pod ?? {});
      const url = new URL(podEnv.DATABASE_URL ?? '');
      const node = nodes.find((candidate) => candidate.name === url.hostname);
      expect(node, `DATABASE_URL host ${url.hostname}`).toBeDefined();
      expect(node?.region).toBe(region.name);
      expect(url.port).toBe('26257');
      expect(url.pathname).toBe('/shop');
      expect(podEnv.DB_DIALECT).toBe('cockroach');
      expect(podEnv.REGIONS).toBe(region.name);
      expect(podEnv.NODE_ENV).toBe('production');
      expect(podEnv.AUTH_JWT_SECRET).toMatch(/^\$\{AUTH_JWT_SECRET:\?.+\}$/);
      expect(podEnv.PSP_WEBHOOK_SECRET).toMatch(/^\$\{PSP_WEBHOOK_SECRET:\?.+\}$/);
      expect(podEnv.WEBHOOK_SECRETS_KEY).toMatch(/^\$\{WEBHOOK_SECRETS_KEY:\?.+\}$/);
      expect(podEnv.PAYOUT_WEBHOOK_SECRET).toMatch(/^\$\{PAYOUT_WEBHOOK_SECRET:\?.+\}$/);
      // Withdrawals are paid: the payout provider is the compose file's own (the default is the pod's localhost).
      expect(podEnv.PAYOUT_PROVIDER_URL).toBe('http://payouts:4100');
      expect(commandText(pod ?? {})).toContain(`npm run pod -- --region ${region.name}`);
      expect(publishedPorts(pod ?? {})).toContainEqual([region.port, region.port]);
      const deps = dependsOn(pod ?? {});
      expect(deps.migrate).toBe('service_completed_successfully');
      expect(deps[url.hostname]).toBe('service_healthy');
    });
  }

  it("runs the payout simulator, calling every pod back with the pods' payout secret", () => {
    const payouts = services.payouts;
    expect(payouts).toBeDefined();
    const command = commandText(payouts ?? {});
    expect(command).toContain('npm run payouts -- --host 0.0.0.0 --port 4100');
    for (const region of topology.regions) expect(command).toContain(`http://pod-${region.name}:${region.port}`);
    expect(env(payouts ?? {}).PAYOUT_WEBHOOK_SECRET).toMatch(/^\$\{PAYOUT_WEBHOOK_SECRET:\?.+\}$/);
  });

  it('has no pod for a region that regions.json does not know', () => {
    const pods = Object.keys(services).filter((name) => name.startsWith('pod-'));
    expect(pods.sort()).toEqual(topology.regions.map((region) => `pod-${region.name}`).sort());
  });
});

describe('table locality map', () => {
  it('declares the account-owned tables REGIONAL BY ROW and the catalog GLOBAL', () => {
    const regionalByRow = [
      'accounts',
      'wallets',
      'idempotency_keys',
      'ledger_transactions',
      'ledger_entries',
      'system_balance_shards',
      'holds',
      'orders',
      'order_lines',
      'entitlements',
      'order_refunds',
      'topups',
      'psp_events',
      'purchase_requests',
      'purchase_attempts',
      'jobs',
      'seller_quotes',
      'quote_fanouts',
      'events',
      'webhook_deliveries',
    ];
    const global = ['items', 'sellers', 'webhook_endpoints'];
    const map: Record<string, string> = TABLE_LOCALITIES;
    for (const table of regionalByRow) expect(map[table], table).toBe('regional_by_row');
    for (const table of global) expect(map[table], table).toBe('global');
    // Written on every seller call: REGIONAL BY TABLE in the primary region (unmapped), not GLOBAL.
    for (const table of ['seller_rate_windows', 'seller_health', 'webhook_endpoint_health']) expect(map[table], table).toBeUndefined();
  });
});

describe('multi-region DDL generator', () => {
  const threeRegions: Topology = {
    primary_region: 'us-east',
    survival_goal: 'region',
    regions: [
      { name: 'eu-west', port: 3001, zones: ['eu-west-a'] },
      { name: 'us-east', port: 3002, zones: ['us-east-a'] },
      { name: 'ap-south', port: 3003, zones: ['ap-south-a'] },
    ],
  };

  it('sets the primary region first, adds every other region, then the survival goal', () => {
    expect(databaseRegionStatements(threeRegions, 'shop')).toEqual([
      'ALTER DATABASE "shop" SET PRIMARY REGION "us-east"',
      'ALTER DATABASE "shop" ADD REGION IF NOT EXISTS "eu-west"',
      'ALTER DATABASE "shop" ADD REGION IF NOT EXISTS "ap-south"',
      'ALTER DATABASE "shop" SURVIVE REGION FAILURE',
    ]);
  });

  it('follows regions/regions.json', () => {
    const statements = databaseRegionStatements(topology, 'shop');
    expect(statements[0]).toBe(`ALTER DATABASE "shop" SET PRIMARY REGION "${topology.primary_region}"`);
    const others = topology.regions.filter((region) => region.name !== topology.primary_region);
    for (const region of others) {
      expect(statements).toContain(`ALTER DATABASE "shop" ADD REGION IF NOT EXISTS "${region.name}"`);
    }
    expect(statements).toHaveLength(others.length + 2);
    expect(statements.at(-1)).toBe(`ALTER DATABASE "shop" SURVIVE ${topology.survival_goal === 'region' ? 'REGION' : 'ZONE'} FAILURE`);
    for (const sql of statements) expect(sql).not.toContain(';');
  });

  it('uses SURVIVE ZONE FAILURE for the zone goal and refuses REGION with fewer than 3 regions', () => {
    const oneRegion: Topology = {
      primary_region: 'eu-west',
      survival_goal: 'zone',
      regions: [{ name: 'eu-west', port: 3001, zones: ['eu-west-a'] }],
    };
    expect(databaseRegionStatements(oneRegion, 'db')).toEqual([
      'ALTER DATABASE "db" SET PRIMARY REGION "eu-west"',
      'ALTER DATABASE "db" SURVIVE ZONE FAILURE',
    ]);
    expect(() => databaseRegionStatements({ ...oneRegion, survival_goal: 'region' }, 'db')).toThrow(/3 regions/);
    expect(() => databaseRegionStatements({ ...oneRegion, primary_region: 'nowhere' }, 'db')).toThrow(/nowhere/);
  });

  it('quotes identifiers', () => {
    expect(quoteIdent('shop')).toBe('"shop"');
    expect(quoteIdent('we"ird')).toBe('"we""ird"');
    expect(databaseRegionStatements(threeRegions, 'my"db')[0]).toBe('ALTER DATABASE "my""db" SET PRIMARY REGION "us-east"');
    expect(() => quoteIdent('')).toThrow();
  });

  it('gives every mapped table exactly one locality statement', () => {
    const tables = localizedTables();
    const statements = tableLocalityStatements(tables);
    expect(statements).toHaveLength(tables.length);
    for (const table of tables) {
      expect(
        statements.filter((sql) => sql.startsWith(`ALTER TABLE "${table}" SET LOCALITY `)),
        table,
      ).toHaveLength(1);
    }
    expect(statements).toContain('ALTER TABLE "items" SET LOCALITY GLOBAL');
    expect(statements).toContain('ALTER TABLE "sellers" SET LOCALITY GLOBAL');
    expect(statements).toContain('ALTER TABLE "wallets" SET LOCALITY REGIONAL BY ROW AS "crdb_region"');
    expect(statements).toContain('ALTER TABLE "ledger_entries" SET LOCALITY REGIONAL BY ROW AS "crdb_region"');
  });

  it('skips mapped tables that do not exist and ignores unmapped ones', () => {
    expect(tableLocalityStatements(['wallets', 'not_in_map', 'items'])).toEqual([
      'ALTER TABLE "wallets" SET LOCALITY REGIONAL BY ROW AS "crdb_region"',
      'ALTER TABLE "items" SET LOCALITY GLOBAL',
    ]);
    expect(tableLocalityStatements([])).toEqual([]);
  });

  it('prints a header, then the database statements, then every table statement', () => {
    const script = renderMultiRegionDdl(threeRegions, 'shop');
    expect(script.startsWith('-- Generated from regions/regions.json')).toBe(true);
    expect(script).toContain('CockroachDB');
    const primary = script.indexOf('ALTER DATABASE "shop" SET PRIMARY REGION "us-east";');
    const survive = script.indexOf('ALTER DATABASE "shop" SURVIVE REGION FAILURE;');
    const firstTable = script.indexOf('ALTER TABLE ');
    expect(primary).toBeGreaterThan(0);
    expect(survive).toBeGreaterThan(primary);
    expect(firstTable).toBeGreaterThan(survive);
    expect(script.match(/^ALTER TABLE /gm)).toHaveLength(localizedTables().length);
  });
});

describe('applyMultiRegionDdl', () => {
  function fakeClient(options: { tables?: string[]; failFirst?: RegExp } = {}) {
    const executed: string[] = [];
    let failed = false;
    return {
      executed,
      async query(sql: string): Promise<unknown> {
        if (options.failFirst && !failed && options.failFirst.test(sql)) {
          failed = true;
          throw new Error('region "eu-west" has not been added to the database');
        }
        executed.push(sql);
        if (sql.startsWith('SELECT table_name')) {
          return { rows: (options.tables ?? []).map((table_name) => ({ table_name })) };
        }
        return { rows: [] };
      },
    };
  }

  it('runs the database statements in order', async () => {
    const client = fakeClient();
    const done = await applyMultiRegionDdl(client, topology, 'shop', 'database');
    expect(client.executed).toEqual(databaseRegionStatements(topology, 'shop'));
    expect(done).toEqual(client.executed);
  });

  it('adds a new primary region before making it primary on an existing multi-region database', async () => {
    const client = fakeClient({ failFirst: /SET PRIMARY REGION/ });
    await applyMultiRegionDdl(client, topology, 'shop', 'database');
    expect(client.executed.slice(0, 2)).toEqual([
      `ALTER DATABASE "shop" ADD REGION IF NOT EXISTS "${topology.primary_region}"`,
      `ALTER DATABASE "shop" SET PRIMARY REGION "${topology.primary_region}"`,
    ]);
  });

  it('sets the locality of the existing mapped tables only', async () => {
    const client = fakeClient({ tables: ['items', 'wallets', 'schema_migrations'] });
    const done = await applyMultiRegionDdl(client, topology, 'shop', 'tables');
    expect(done).toEqual([
      'ALTER TABLE "wallets" SET LOCALITY REGIONAL BY ROW AS "crdb_region"',
      'ALTER TABLE "items" SET LOCALITY GLOBAL',
    ]);
    expect(client.executed.slice(1)).toEqual(done);
  });
});
