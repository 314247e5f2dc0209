import { fork, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { SellerSimulatorOptions } from '../../tools/seller-simulator/seller-simulator.js';

const CHILD_SCRIPT = fileURLToPath(new URL('./simulator-child.ts', import.meta.url));

export interface CallTotals {
  quote_calls: number;
  hold_calls: number;
  order_calls: number;
  orders_created: number;
  rejected_429: number;
}

/** A seller simulator running in its own process; call counters summed over all its sellers. */
export class SimulatorProcess {
  private next_id = 0;
  private readonly pending = new Map<number, (value: any) => void>();

  private constructor(
    private readonly child: ChildProcess,
    private url = '',
  ) {
    child.on('message', (message: { id: number; value: unknown }) => {
      this.pending.get(message.id)?.(message.value);
      this.pending.delete(message.id);
    });
  }

  static async start(options: SellerSimulatorOptions): Promise<SimulatorProcess> {
    const child = fork(CHILD_SCRIPT, [], { execArgv: ['--import', 'tsx'], stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
    const simulator = new SimulatorProcess(child);
    simulator.url = ((await simulator.ask({ type: 'start', options })) as { url: string }).url;
    return simulator;
  }

  baseUrl(seller_id: string): string {
    return `${this.url}/sellers/${seller_id}`;
  }

  totals(): Promise<CallTotals> {
    return this.ask({ type: 'totals' });
  }

  async reset(): Promise<void> {
    await this.ask({ type: 'reset' });
  }

  async close(): Promise<void> {
    if (this.child.exitCode !== null) return;
    const exited = new Promise((resolve) => this.child.once('exit', resolve));
    await this.ask({ type: 'close' });
    await exited;
  }

  private ask<T>(message: Record<string, unknown>): Promise<T> {
    const id = this.next_id++;
    return new Promise<T>((resolve) => {
      this.pending.set(id, resolve);
      this.child.send({ ...message, id });
    });
  }
}
