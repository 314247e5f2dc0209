import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CallSlots } from '../../src/sellers/client/call-slots.js';
import { OutboundAgents } from '../../src/sellers/client/http-call.js';
import { callSettings, requestQuote } from '../../src/sellers/client/seller-protocol.js';
import { callSellers } from '../../src/sellers/guard/seller-gate.js';
import { findSeller } from '../../src/sellers/registry/seller-repository.js';
import { request, startCluster, tokens, uniqueId, type TestCluster } from '../support/cluster.js';

// A real pod's gate and a real seller over HTTP that answers in 300 ms, within its own 1 s
// timeout: a call the request's deadline cuts short at 100 ms times out on our side, not the seller's.
// Under /silent the same server never answers, so a call there times out whatever it is given.

let cluster: TestCluster;
let seller: Server;
let admin: string;
const agents = new OutboundAgents(8);

beforeAll(async () => {
  cluster = await startCluster();
  admin = await tokens(cluster.config).service('admin', 'ops');
  seller = createServer((incoming, response) => {
    incoming.resume();
    if (incoming.url?.startsWith('/silent/')) return; // left open until afterAll closes every connection
    setTimeout(() => {
      response.writeHead(200, { 'Content-Type': 'application/json' });
      response.end(JSON.stringify({ available: false }));
    }, 300);
  });
  await new Promise<void>((resolve) => seller.listen(0, '127.0.0.1', resolve));
});
afterAll(async () => {
  agents.destroy();
  seller?.closeAllConnections();
  seller?.close();
  await cluster?.stop();
});

/** A seller of that server registered with `timeout_ms`, and a quote call to it through the gate with `deadline_ms`. */
async function registered(prefix: string, timeout_ms: number, path = '') {
  const id = uniqueId(prefix);
  const base_url = `http://127.0.0.1:${(seller.address() as AddressInfo).port}${path}`;
  const body = { base_url, rate_limit_per_minute: 100_000, timeout_ms, supports_holds: true, active: true };
  expect((await request(cluster.pods[0]!.url, 'PUT', `/v1/sellers/${id}`, body, { token: admin })).status).toBeLessThan(300);
  const { deps } = cluster.pods[0]!;
  const found = await deps.transactions.read((tx) => findSeller(tx, id));
  return {
    ask: (deadline_ms: number) =>
      callSellers(
        deps,
        new CallSlots(4),
        'quote',
        [found!],
        (target, call_timeout_ms) => requestQuote(target, 'book-1', callSettings(deps.config.sellers, agents, call_timeout_ms)),
        deadline_ms,
      ),
    health: async () => (await request(cluster.pods[1]!.url, 'GET', `/v1/sellers/${id}`, undefined, { token: admin })).body.health,
  };
}

describe('a call cut short by the request', () => {
  it("when the request's deadline ends a call before the seller's timeout, then its timeout is not charged to the seller", async () => {
    const { ask, health } = await registered('slow-seller', 1000);
    const short = await ask(Date.now() + 100);
    expect(await short.calls[0]!.result).toMatchObject({ outcome: 'failed', reason: 'timeout' });
    await short.recorded;
    // Recorded as a failure before: three such requests opened the circuit of a healthy seller.
    expect(await health()).toMatchObject({ recent_failures: 0 });
    // Given its own timeout, the same seller answers.
    const whole = await ask(Date.now() + 2000);
    expect(await whole.calls[0]!.result).toMatchObject({ outcome: 'ok' });
    await whole.recorded;
    expect(await health()).toMatchObject({ recent_calls: 1, recent_failures: 0 });
  });

  it('when a call is given at least half of its own timeout and times out, then that is charged to the seller', async () => {
    // Never answers; registered with 1000 ms and given less of it by the request's deadline, as a
    // seller whose timeout no phase can give is on every call: were those never charged, its circuit
    // would never open. The gate sizes the call only after its circuit and rate-window round trips, so
    // the deadline leaves 400 ms for those before the call falls under half (500 ms) and is cut short;
    // a tighter one was cut short on a loaded machine and never charged. The call still gets at most
    // 900 of its 1000 ms: were any call short of its own timeout left uncharged, this would fail.
    const { ask, health } = await registered('cut-seller', 1000, '/silent');
    const gated = await ask(Date.now() + 900);
    expect(await gated.calls[0]!.result).toMatchObject({ outcome: 'failed', reason: 'timeout' });
    await gated.recorded;
    expect(await health()).toMatchObject({ recent_calls: 1, recent_failures: 1 });
  });
});
