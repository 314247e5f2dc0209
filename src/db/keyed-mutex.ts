import { DomainError } from '../domain/errors.js';

interface KeyQueue {
  tail: Promise<void>;
  /** Holder plus waiters. */
  count: number;
}

/**
 * In-process FIFO mutex over string keys. A task holding several keys acquires them in sorted
 * order, so two tasks can never wait on each other. Waiters per key are bounded.
 */
export class KeyedMutex {
  private readonly queues = new Map<string, KeyQueue>();

  constructor(private readonly waiters_max: number) {}

  async runExclusive<T>(keys: readonly string[], task: () => Promise<T>): Promise<T> {
    const ordered = [...new Set(keys)].sort();
    const releases: Array<() => void> = [];
    try {
      for (const key of ordered) releases.push(await this.acquire(key));
      return await task();
    } finally {
      for (const release of releases.reverse()) release();
    }
  }

  private async acquire(key: string): Promise<() => void> {
    const queue = this.queues.get(key) ?? { tail: Promise.resolve(), count: 0 };
    if (queue.count > this.waiters_max) {
      throw new DomainError('unavailable', 'too many concurrent requests on one wallet; retry with the same Idempotency-Key');
    }
    this.queues.set(key, queue);
    queue.count += 1;
    const previous = queue.tail;
    let release!: () => void;
    queue.tail = new Promise<void>((resolve) => (release = resolve));
    await previous;
    return () => {
      queue.count -= 1;
      if (queue.count === 0) this.queues.delete(key);
      release();
    };
  }
}
