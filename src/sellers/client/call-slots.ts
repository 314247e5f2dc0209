/**
 * Bounds the seller calls in flight in one pod. A fan-out takes the slots of a whole phase at
 * once (all or nothing, first come first served), so two fan-outs can never each hold half of
 * what they need; a wait is bounded by the caller's deadline.
 */
export class CallSlots {
  private free: number;
  private readonly waiters: Array<{ count: number; grant: () => void }> = [];

  constructor(readonly capacity: number) {
    this.free = capacity;
  }

  /** Takes `count` slots (at most the capacity), or returns false when `deadline_ms` (epoch) passes first. */
  async acquire(count: number, deadline_ms: number): Promise<boolean> {
    if (count > this.capacity) throw new RangeError(`cannot hold ${count} call slots: the capacity is ${this.capacity}`);
    if (this.waiters.length === 0 && this.free >= count) {
      this.free -= count;
      return true;
    }
    return new Promise<boolean>((resolve) => {
      const waiter = { count, grant: () => resolve(true) };
      const timer = setTimeout(
        () => {
          const index = this.waiters.indexOf(waiter);
          if (index < 0) return;
          this.waiters.splice(index, 1);
          resolve(false);
          this.drain();
        },
        Math.max(0, deadline_ms - Date.now()),
      );
      waiter.grant = () => {
        clearTimeout(timer);
        resolve(true);
      };
      this.waiters.push(waiter);
    });
  }

  release(count: number): void {
    this.free += count;
    this.drain();
  }

  private drain(): void {
    for (;;) {
      const next = this.waiters[0];
      if (!next || next.count > this.free) return;
      this.waiters.shift();
      this.free -= next.count;
      next.grant();
    }
  }
}
