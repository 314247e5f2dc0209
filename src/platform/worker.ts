import { setTimeout as sleep } from 'node:timers/promises';
import type { Logger } from './logger.js';

export interface PeriodicTask {
  name: string;
  interval_ms: number;
  /** Returns how many items it handled; a full batch runs again without waiting. */
  run(): Promise<number>;
  batch_size: number;
}

/** Runs background tasks on an interval until stopped; a failing run is logged and retried later. */
export class WorkerLoop {
  private stopping = false;
  private readonly loops: Promise<void>[] = [];
  private readonly wake = new AbortController();

  constructor(private readonly logger: Logger) {}

  start(tasks: readonly PeriodicTask[]): void {
    for (const task of tasks) this.loops.push(this.loop(task));
  }

  private async loop(task: PeriodicTask): Promise<void> {
    // Spread pods' first runs so they do not all hit the database at the same instant.
    await this.pause(Math.random() * task.interval_ms);
    while (!this.stopping) {
      let handled = 0;
      try {
        handled = await task.run();
      } catch (error) {
        this.logger.warn({ err: error, task: task.name }, 'background task failed; will retry');
      }
      if (handled < task.batch_size) await this.pause(task.interval_ms);
    }
  }

  private async pause(ms: number): Promise<void> {
    await sleep(ms, undefined, { signal: this.wake.signal }).catch(() => undefined);
  }

  async stop(): Promise<void> {
    this.stopping = true;
    this.wake.abort();
    await Promise.allSettled(this.loops);
  }
}
