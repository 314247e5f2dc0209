import { startSellerSimulator, type SellerSimulator, type SellerSimulatorOptions } from '../../tools/seller-simulator/seller-simulator.js';

// The seller simulator in a process of its own (benchmarks: its CPU is not the service's),
// driven over IPC by simulator-process.ts.
type Request = { id: number; type: 'start'; options: SellerSimulatorOptions } | { id: number; type: 'totals' | 'reset' | 'close' };

let simulator: SellerSimulator | undefined;

function totals() {
  const sum = { quote_calls: 0, hold_calls: 0, order_calls: 0, orders_created: 0, rejected_429: 0 };
  for (const id of simulator?.sellerIds() ?? []) {
    const stats = simulator!.stats(id);
    for (const key of Object.keys(sum) as Array<keyof typeof sum>) sum[key] += stats[key];
  }
  return sum;
}

process.on('message', async (request: Request) => {
  switch (request.type) {
    case 'start':
      simulator = await startSellerSimulator(request.options);
      return process.send?.({ id: request.id, value: { url: simulator.url } });
    case 'totals':
      return process.send?.({ id: request.id, value: totals() });
    case 'reset':
      simulator?.resetStats();
      return process.send?.({ id: request.id, value: null });
    case 'close':
      await simulator?.close();
      process.send?.({ id: request.id, value: null });
      return process.exit(0);
  }
});
process.on('disconnect', () => process.exit(0));
