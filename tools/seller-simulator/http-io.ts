import type { IncomingMessage, ServerResponse } from 'node:http';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Reply } from './seller-state.js';

const BODY_LIMIT_BYTES = 64 * 1024;

export function sendReply(res: ServerResponse, reply: Reply): void {
  if (res.headersSent || res.destroyed) return;
  res.writeHead(reply.status, { 'content-type': 'application/json', ...reply.headers });
  res.end(JSON.stringify(reply.body));
}

export const badRequest = (error: string, detail: string): Reply => ({ status: 400, body: { error, detail } });

/** The parsed JSON body, or the reply refusing it. */
export async function readJson(req: IncomingMessage): Promise<{ value: unknown } | Reply> {
  const chunks: Buffer[] = [];
  let size = 0;
  // Keeps draining past the limit so the connection can still carry the 413.
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size <= BODY_LIMIT_BYTES) chunks.push(chunk);
  }
  if (size > BODY_LIMIT_BYTES) return { status: 413, body: { error: 'payload_too_large' } };
  try {
    return { value: JSON.parse(Buffer.concat(chunks).toString('utf8')) as unknown };
  } catch {
    return badRequest('validation_error', 'body must be JSON');
  }
}

/** Waits `ms`; false when the client left or the simulator is closing, so nothing should be written. */
export async function pause(ms: number, signal: AbortSignal): Promise<boolean> {
  if (ms <= 0) return !signal.aborted;
  try {
    await sleep(ms, undefined, { signal });
    return true;
  } catch (error) {
    if (signal.aborted) return false;
    throw error;
  }
}

export function rateLimited(wait_ms: number): Reply {
  const seconds = Math.max(1, Math.ceil(wait_ms / 1000));
  return { status: 429, body: { error: 'rate_limited', retry_after_ms: wait_ms }, headers: { 'Retry-After': String(seconds) } };
}
