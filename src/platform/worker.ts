import { setMaxListeners } from 'node:events';
import { setTimeout as sleep } from 'node:timers/promises';
import { backoffDelayMs } from './backoff.js';
import type { Logger } from './logger.js';

export interface PeriodicTask {
  name: string;
  interval_ms: number;
  /** Returns how many items it handled; a full batch runs again without waiting. */
  run(): Promise<number>;
  batch_size: number;
}

/**
 * Runs background tasks on an interval until stopped. A failing run (the database is down, say)
 * is logged and retried after a delay that doubles with each failure in a row, from the task's
 * interval up to `backoff_max_ms`: a long outage neither stops the task nor floods the logs.
 */
export class WorkerLoop {
  private stopping = false;
  private readonly loops: Promise<void>[] = [];
  private readonly wake = new AbortController();

  constructor(
    private readonly logger: Logger,
    private readonly backoff_max_ms: number,
  ) {}

  start(tasks: readonly PeriodicTask[]): void {
    // Every task pauses on the one stop signal: a listener each (Node warns past 10 by default).
    setMaxListeners(this.loops.length + tasks.length, this.wake.signal);
    for (const task of tasks) this.loops.push(this.loop(task));
  }

  private async loop(task: PeriodicTask): Promise<void> {
    // Spread pods' first runs so they do not all hit the database at the same instant.
    await this.pause(Math.random() * task.interval_ms);
    let failures = 0;
    while (!this.stopping) {
      try {
        const handled = await task.run();
        failures = 0;
        if (handled < task.batch_size) await this.pause(task.interval_ms);
      } catch (error) {
        failures += 1;
        const delay_ms = backoffDelayMs(failures, { initial_ms: task.interval_ms, max_ms: this.backoff_max_ms });
        this.logger.warn({ err: error, task: task.name, failures, delay_ms }, 'background task failed; will retry');
        await this.pause(delay_ms);
      }
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
