import { setTimeout as sleep } from 'node:timers/promises';
import { expect, it } from 'vitest';
import { createLogger } from '../../src/platform/logger.js';
import { WorkerLoop } from '../../src/platform/worker.js';

// A pod runs more background tasks than Node's default of 10 listeners per signal; they all
// pause on the loop's stop signal, which must not look like a leak in the pod's log.
it('runs 15 tasks on one stop signal without a MaxListenersExceededWarning, and stops them all', async () => {
  const warnings: string[] = [];
  const onWarning = (warning: Error) => warnings.push(warning.name);
  process.on('warning', onWarning);
  try {
    const runs = new Map<string, number>();
    const loop = new WorkerLoop(createLogger({ level: 'silent' }), 1000);
    loop.start(
      Array.from({ length: 15 }, (_, index) => ({
        name: `task-${index}`,
        interval_ms: 20,
        batch_size: 10,
        run: async () => {
          runs.set(`task-${index}`, (runs.get(`task-${index}`) ?? 0) + 1);
          return 0;
        },
      })),
    );
    await sleep(200);
    await loop.stop();
    // Warnings are emitted on the next tick.
    await sleep(10);
    expect(runs.size).toBe(15);
    expect(warnings).toEqual([]);
  } finally {
    process.off('warning', onWarning);
  }
});
