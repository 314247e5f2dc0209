import { fork, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { once } from 'node:events';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import type pg from 'pg';
import { mintToken } from '../src/auth/tokens.js';
import { DEVELOPMENT_JWT_SECRET } from '../src/platform/config.js';
import { CpuMeter, procStat, type CpuUsage } from './cpu.js';
import { percentile, runLoad, type LoadStats, type Operation } from './load.js';

// Scenario `wh` (issue 10): the debits of scenario b with one webhook endpoint subscribed to "*",
// a local receiver answering 200 (it verifies every signature, as a real one would; it runs in a
// process of its own, an integrator's, so its CPU is not counted as the service's). Then the
// receiver goes down for `outage_s` while the debits go on, and comes back: how long the backlog
// takes to drain, and when the delivery lag is back under 2 s.

const LAG_GOAL_S = 2;
/** How long the load goes on after the receiver is back, per second it was away. */
const RECOVERY_PER_OUTAGE = 3;
const TICKS_PER_SECOND = 100;
const RECEIVER_SCRIPT = fileURLToPath(new URL('./webhook-receiver.ts', import.meta.url));

export interface WebhookBenchOptions {
  /** The debits of scenario b. */
  debit: Operation;
  pod_urls: readonly string[];
  pool: pg.Pool;
  concurrency: number;
  warmup_s: number;
  duration_s: number;
  outage_s: number;
  /** Scenario b (same debits, no endpoint) in this run, when it ran: ops/s and system CPU ms per request. */
  baseline: { ops_per_s: number; system_ms_per_request: number } | undefined;
  meter: CpuMeter;
  log: (line: string) => void;
}

/** The receiver process, driven over IPC. */
class Receiver {
  private readonly child: ChildProcess;
  port = 0;

  constructor(private readonly secret_of: () => string) {
    this.child = fork(RECEIVER_SCRIPT, [], { execArgv: ['--import', 'tsx'], stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  }

  private async ask<T>(command: object, answer: string): Promise<T> {
    const reply = new Promise<T>((resolve) => {
      const listener = (message: { type: string }) => {
        if (message.type !== answer) return;
        this.child.off('message', listener);
        resolve(message as T);
      };
      this.child.on('message', listener);
    });
    this.child.send(command);
    return reply;
  }

  async listen(port = 0): Promise<void> {
    this.port = (await this.ask<{ port: number }>({ type: 'listen', port, secret: this.secret_of() }, 'listening')).port;
  }

  async close(): Promise<void> {
    await this.ask({ type: 'close' }, 'closed');
  }

  /** Lags (s, ascending) of the events first acknowledged between two times, and totals. */
  async lags(from_ms: number, to_ms: number): Promise<{ lags: Float64Array; acknowledged: number; rejected: number }> {
    const reply = await this.ask<{ lags: number[]; acknowledged: number; rejected: number }>({ type: 'lags', from_ms, to_ms }, 'lags');
    return { ...reply, lags: Float64Array.from(reply.lags.map((lag_ms) => lag_ms / 1000)).sort() };
  }

  async cpuSeconds(): Promise<number> {
    return ((await procStat(this.child.pid!))?.ticks ?? 0) / TICKS_PER_SECOND;
  }

  async stop(): Promise<void> {
    this.child.disconnect();
    if (this.child.exitCode === null) await once(this.child, 'exit');
  }
}

async function admin(pod_url: string, method: string, path: string, body?: unknown): Promise<any> {
  const token = await mintToken({ sub: 'bench-admin', scope: 'admin', expires_in_seconds: 3600 }, { secret: DEVELOPMENT_JWT_SECRET });
  const response = await fetch(new URL(path, pod_url), {
    method,
    headers: { Authorization: `Bearer ${token}`, 'Content-Type': 'application/json', 'Idempotency-Key': randomUUID() },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const answer = await response.json();
  if (!response.ok) throw new Error(`${method} ${path}: ${response.status} ${JSON.stringify(answer)}`);
  return answer;
}

/** PostgreSQL, pods and the bench process (not the receiver): CPU ms per request. */
function systemMsPerRequest(cpu: CpuUsage, requests: number): number {
  return ((cpu.seconds.postgres + cpu.seconds.pods + cpu.seconds.load_generator) * 1000) / requests;
}

async function pendingBefore(pool: pg.Pool, endpoint_id: string, before_ms: number): Promise<number> {
  const { rows } = await pool.query<{ count: string }>(
    `SELECT count(*) AS count FROM webhook_deliveries
     WHERE endpoint_id = $1 AND state = 'pending' AND created_at < to_timestamp($2 / 1000.0)`,
    [endpoint_id, before_ms],
  );
  return Number(rows[0]!.count);
}

export interface WebhookBenchResult {
  load: LoadStats;
  lag_p50_s: number;
  lag_p99_s: number;
  backlog_at_recovery: number;
  drained_after_s: number | undefined;
  lag_under_goal_after_s: number | undefined;
  text: string;
}

/** The first second (after `from_ms`, before `to_ms`) from which on every second's p99 lag is under the goal. */
async function lagUnderGoalAfter(receiver: Receiver, from_ms: number, to_ms: number): Promise<number | undefined> {
  const seconds = Math.floor((to_ms - from_ms) / 1000);
  const p99s = [];
  for (let second = 0; second < seconds; second += 1) {
    const { lags } = await receiver.lags(from_ms + second * 1000, from_ms + (second + 1) * 1000);
    p99s.push(lags.length === 0 ? 0 : percentile(lags, 0.99));
  }
  for (let second = 0; second < seconds; second += 1) if (p99s.slice(second).every((p99) => p99 < LAG_GOAL_S)) return second;
  return undefined;
}

/** Scenario wh, start to end; the endpoint is deleted and the receiver stopped afterwards. */
export async function runWebhookBenchmark(options: WebhookBenchOptions): Promise<WebhookBenchResult> {
  const { debit, pod_urls, pool, concurrency, log } = options;
  let secret = '';
  const receiver = new Receiver(() => secret);
  await receiver.listen();
  const endpoint = await admin(pod_urls[0]!, 'POST', '/v1/webhook-endpoints', {
    url: `http://127.0.0.1:${receiver.port}/bench`,
    enabled_events: ['*'],
    description: 'bench receiver',
  });
  secret = endpoint.secret;
  await receiver.close();
  await receiver.listen(receiver.port);
  try {
    // 1. Full load with the endpoint; the deliveries still in flight when it ends are part of its cost.
    const window_start_ms = Date.now() + options.warmup_s * 1000;
    const cpu_before = await options.meter.sample();
    const receiver_cpu_before = await receiver.cpuSeconds();
    const load = await runLoad({
      concurrency,
      warmup_ms: options.warmup_s * 1000,
      duration_ms: options.duration_s * 1000,
      operation: debit,
    });
    await sleep(LAG_GOAL_S * 1000);
    const cpu = CpuMeter.between(cpu_before, await options.meter.sample());
    const receiver_cpu_s = (await receiver.cpuSeconds()) - receiver_cpu_before;
    const system_ms_per_request = systemMsPerRequest(cpu, load.requests);
    const { lags } = await receiver.lags(window_start_ms, Date.now());
    log(
      `wh  ${load.ops_per_s.toFixed(0).padStart(6)} ops/s  p99 ${load.latency_p99_ms.toFixed(1)} ms  ` +
        `delivery lag p50 ${percentile(lags, 0.5).toFixed(3)} s p99 ${percentile(lags, 0.99).toFixed(3)} s (${lags.length} events)`,
    );

    // 2. The receiver down for outage_s under the same load, then back.
    // The load goes on after the receiver's return for three times as long as it was away (20 s at
    // least): on two shared cores the backlog drains only with the CPU the load leaves, and the
    // goal is that it drains and the lag comes back, not that it does so within the outage's length.
    const recover_s = Math.max(20, RECOVERY_PER_OUTAGE * options.outage_s);
    const outage = runLoad({ concurrency, warmup_ms: 0, duration_ms: (1 + options.outage_s + recover_s) * 1000, operation: debit });
    await sleep(1000);
    await receiver.close();
    log(`wh  receiver down for ${options.outage_s} s`);
    await sleep(options.outage_s * 1000);
    const back_ms = Date.now();
    const backlog = await pendingBefore(pool, endpoint.id, back_ms);
    await receiver.listen(receiver.port);
    log(`wh  receiver back; ${backlog} deliveries pending`);
    let drained_after_s: number | undefined;
    while (drained_after_s === undefined && Date.now() - back_ms < recover_s * 1000) {
      if ((await pendingBefore(pool, endpoint.id, back_ms)) === 0) drained_after_s = (Date.now() - back_ms) / 1000;
      else await sleep(250);
    }
    const outage_load = await outage;
    await sleep(LAG_GOAL_S * 1000);
    const lag_under_goal_after_s = await lagUnderGoalAfter(receiver, back_ms, back_ms + recover_s * 1000);
    const totals = await receiver.lags(0, 0);
    const { baseline } = options;
    const ratio = baseline
      ? ` (${(load.ops_per_s / baseline.ops_per_s).toFixed(2)} x scenario b, goal >= 0.85; by CPU cost ` +
        `${(baseline.system_ms_per_request / system_ms_per_request).toFixed(2)}: ${system_ms_per_request.toFixed(2)} against ` +
        `${baseline.system_ms_per_request.toFixed(2)} system CPU ms per request)`
      : '';
    const perRequest = (seconds: number) => ((seconds * 1000) / load.requests).toFixed(2);
    const text = [
      'Webhooks (scenario wh): HTTP debits with one endpoint subscribed to "*", a local receiver answering 200',
      `  throughput ${load.ops_per_s.toFixed(0)} ops/s${ratio}, p50 ${load.latency_p50_ms.toFixed(1)} ms, ` +
        `p99 ${load.latency_p99_ms.toFixed(1)} ms, failed ${load.failed}/${load.requests}`,
      `  delivery lag (commit to 2xx): p50 ${percentile(lags, 0.5).toFixed(3)} s, p99 ${percentile(lags, 0.99).toFixed(3)} s ` +
        `over ${lags.length} events (goal p99 <= ${LAG_GOAL_S} s); the receiver's own CPU: ${perRequest(receiver_cpu_s)} ms per event`,
      `  CPU ms per request: postgres ${perRequest(cpu.seconds.postgres)}, pods ${perRequest(cpu.seconds.pods)}, ` +
        `load generator ${perRequest(cpu.seconds.load_generator)}, other (not ours) ${perRequest(cpu.seconds.other)}`,
      `  receiver down ${options.outage_s} s under load (${outage_load.ops_per_s.toFixed(0)} ops/s, failed ${outage_load.failed}): ` +
        `${backlog} deliveries pending when it came back, ` +
        (drained_after_s === undefined ? `not drained within ${recover_s} s, ` : `drained after ${drained_after_s.toFixed(1)} s, `) +
        (lag_under_goal_after_s === undefined
          ? `lag p99 not under ${LAG_GOAL_S} s within ${recover_s} s`
          : `lag p99 under ${LAG_GOAL_S} s from ${lag_under_goal_after_s} s after its return on`),
      `  events acknowledged: ${totals.acknowledged}; bad signatures seen by the receiver: ${totals.rejected}`,
    ].join('\n');
    return {
      load,
      lag_p50_s: percentile(lags, 0.5),
      lag_p99_s: percentile(lags, 0.99),
      backlog_at_recovery: backlog,
      drained_after_s,
      lag_under_goal_after_s,
      text,
    };
  } finally {
    await admin(pod_urls[0]!, 'DELETE', `/v1/webhook-endpoints/${endpoint.id}`).catch(() => undefined);
    await receiver.stop();
  }
}
