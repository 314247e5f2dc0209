import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { sendReply } from './http-io.js';
import { dispatch, type RouteContext } from './routes.js';
import { simulatorOptionsSchema, validateOrThrow } from './schemas.js';
import { SellerState } from './seller-state.js';
import { resolveSpec } from './spec.js';
import type { SellerSimulator, SellerSimulatorOptions } from './types.js';

export { generateSellers, type GenerateSellersOptions, type Range } from './generate.js';
export type * from './types.js';

type ValidOptions = Required<SellerSimulatorOptions>;

/** Starts one HTTP server answering for every seller under `/sellers/<id>`. */
export async function startSellerSimulator(options: SellerSimulatorOptions): Promise<SellerSimulator> {
  const valid = validateOrThrow<ValidOptions>(simulatorOptionsSchema, options, 'seller simulator options');
  const sellers = new Map(valid.sellers.map((spec) => [spec.id, new SellerState(resolveSpec(spec), valid.window_ms, valid.seed)]));
  // Aborting these wakes every sleeping or hanging call, so close() never waits for a timer.
  const inflight = new Set<AbortController>();
  let url = '';
  const ctx: RouteContext = { sellers, baseUrl: (id) => `${url}/sellers/${id}` };
  const server = createServer((req, res) => {
    const controller = new AbortController();
    inflight.add(controller);
    res.once('close', () => {
      inflight.delete(controller);
      controller.abort();
    });
    dispatch(ctx, req, res, controller.signal).catch((error: unknown) => {
      sendReply(res, { status: 500, body: { error: 'internal_error', detail: String(error) } });
    });
  });
  url = await listen(server, valid.host, valid.port);
  return buildHandle(url, sellers, server, inflight);
}

function listen(server: Server, host: string, port: number): Promise<string> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      const address = server.address() as AddressInfo;
      const shown = address.family === 'IPv6' ? `[${address.address}]` : address.address;
      resolve(`http://${shown}:${address.port}`);
    });
  });
}

function closer(server: Server, inflight: Set<AbortController>): () => Promise<void> {
  let closing: Promise<void> | undefined;
  return () => {
    closing ??= new Promise<void>((resolve, reject) => {
      for (const controller of [...inflight]) controller.abort();
      server.close((error) => (error ? reject(error) : resolve()));
      server.closeAllConnections();
    });
    return closing;
  };
}

function buildHandle(url: string, sellers: Map<string, SellerState>, server: Server, inflight: Set<AbortController>): SellerSimulator {
  const seller = (id: string): SellerState => {
    const state = sellers.get(id);
    if (!state) throw new RangeError(`unknown simulated seller '${id}'`);
    return state;
  };
  return {
    url,
    baseUrl: (id) => `${url}/sellers/${seller(id).spec.id}`,
    close: closer(server, inflight),
    stats: (id) => seller(id).stats.snapshot(),
    orders: (id) => seller(id).orders(),
    spec: (id) => structuredClone(seller(id).spec),
    sellerIds: () => [...sellers.keys()],
    setPrice: (id, product_id, price) => seller(id).update({ prices: { [product_id]: price } }),
    setStock: (id, product_id, units) => seller(id).update({ stock: { [product_id]: units } }),
    setFailing: (id, error_rate) => seller(id).update({ error_rate }),
    setLatency: (id, latency_ms) => seller(id).update({ latency_ms }),
    setBehaviour: (id, patch) => seller(id).update(patch),
    resetStats: () => {
      for (const state of sellers.values()) state.stats.reset();
    },
  };
}
