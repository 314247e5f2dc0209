export interface QuorumOptions {
  deadline_ms: number;
  /** Share of the promises (0.5..1) after which only `grace_ms` more is waited. */
  quorum: number;
  grace_ms: number;
}

/**
 * Waits for a batch of calls until all have settled, or the deadline passes, or a quorum has
 * settled and the grace after it is over, whichever comes first. Unsettled entries are
 * undefined (their calls go on and end by their own timeout). A straggler thus costs at most
 * the grace, not its full timeout.
 */
export function settleWithQuorum<T>(promises: ReadonlyArray<Promise<T>>, options: QuorumOptions): Promise<Array<T | undefined>> {
  const results: Array<T | undefined> = promises.map(() => undefined);
  if (promises.length === 0) return Promise.resolve(results);
  const quorum_count = Math.max(1, Math.ceil(promises.length * options.quorum));
  return new Promise((resolve) => {
    let settled = 0;
    let finished = false;
    let grace_timer: NodeJS.Timeout | undefined;
    const finish = () => {
      if (finished) return;
      finished = true;
      clearTimeout(deadline_timer);
      clearTimeout(grace_timer);
      resolve([...results]);
    };
    const deadline_timer = setTimeout(finish, Math.max(0, options.deadline_ms - Date.now()));
    const settle = (index: number, value: T | undefined) => {
      results[index] = value;
      settled += 1;
      if (settled === promises.length) finish();
      else if (settled === quorum_count && grace_timer === undefined) grace_timer = setTimeout(finish, options.grace_ms);
    };
    for (const [index, promise] of promises.entries()) {
      promise.then(
        (value) => settle(index, value),
        () => settle(index, undefined),
      );
    }
  });
}
