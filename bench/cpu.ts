import { readdir, readFile } from 'node:fs/promises';

// Linux /proc accounting, in clock ticks (USER_HZ is 100 on every mainstream kernel).
const TICKS_PER_SECOND = 100;

export interface CpuSample {
  wall_ms: number;
  /** CPU seconds consumed so far by each group of processes. */
  seconds: Record<CpuGroup, number>;
}

export type CpuGroup = 'postgres' | 'pods' | 'load_generator' | 'other';

export interface CpuUsage {
  /** CPU seconds per group between two samples. */
  seconds: Record<CpuGroup, number>;
  wall_s: number;
}

interface ProcStat {
  ppid: number;
  /** utime + stime of the process itself. */
  ticks: number;
  /** cutime + cstime: children that exited and were reaped. */
  reaped_children_ticks: number;
}

export async function procStat(pid: number): Promise<ProcStat | undefined> {
  const text = await readFile(`/proc/${pid}/stat`, 'utf8').catch(() => undefined);
  if (!text) return undefined;
  // Fields after the command name, which may itself contain spaces and parentheses.
  const fields = text
    .slice(text.lastIndexOf(')') + 2)
    .split(' ')
    .map(Number);
  return { ppid: fields[1]!, ticks: fields[11]! + fields[12]!, reaped_children_ticks: fields[13]! + fields[14]! };
}

/**
 * A process, its live children and its reaped children: the whole of PostgreSQL, whose backends
 * come and go with the pods' connection pools.
 */
async function treeTicks(root_pid: number): Promise<number> {
  const pids = (await readdir('/proc')).filter((name) => /^\d+$/.test(name)).map(Number);
  const stats = await Promise.all(pids.map(async (pid) => ({ pid, stat: await procStat(pid) })));
  return stats.reduce((sum, { pid, stat }) => {
    if (!stat) return sum;
    if (pid === root_pid) return sum + stat.ticks + stat.reaped_children_ticks;
    return stat.ppid === root_pid ? sum + stat.ticks : sum;
  }, 0);
}

async function machineBusyTicks(): Promise<number> {
  const line = (await readFile('/proc/stat', 'utf8')).split('\n')[0]!;
  const [user, nice, system, , , irq, softirq, steal] = line.split(/\s+/).slice(1).map(Number);
  return user! + nice! + system! + irq! + softirq! + steal!;
}

/** Samples CPU time of PostgreSQL, the pods, this process and everything else on the machine. */
export class CpuMeter {
  constructor(
    private readonly postmaster_pid: number,
    private readonly pod_pids: () => number[],
  ) {}

  async sample(): Promise<CpuSample> {
    const [postgres, pods, busy] = await Promise.all([
      treeTicks(this.postmaster_pid),
      Promise.all(this.pod_pids().map(async (pid) => (await procStat(pid))?.ticks ?? 0)),
      machineBusyTicks(),
    ]);
    const own = process.cpuUsage();
    const seconds = {
      postgres: postgres / TICKS_PER_SECOND,
      pods: pods.reduce((sum, ticks) => sum + ticks, 0) / TICKS_PER_SECOND,
      load_generator: (own.user + own.system) / 1e6,
      other: 0,
    };
    seconds.other = busy / TICKS_PER_SECOND - seconds.postgres - seconds.pods - seconds.load_generator;
    return { wall_ms: performance.now(), seconds };
  }

  static between(before: CpuSample, after: CpuSample): CpuUsage {
    const groups: CpuGroup[] = ['postgres', 'pods', 'load_generator', 'other'];
    const seconds = Object.fromEntries(groups.map((group) => [group, Math.max(0, after.seconds[group] - before.seconds[group])])) as Record<
      CpuGroup,
      number
    >;
    return { seconds, wall_s: (after.wall_ms - before.wall_ms) / 1000 };
  }
}
