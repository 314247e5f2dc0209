import type { IncomingMessage, RequestListener, ServerResponse } from 'node:http';
import { requestIdOf } from './middleware.js';
import { PROBLEM_CONTENT_TYPE, problemFor } from './problem.js';

const JSON_TYPE = 'application/json; charset=utf-8';

/**
 * What a pod answers while it waits for its database at start. It listens at once, so that a
 * liveness probe sees a live process (an orchestrator would otherwise restart it in a loop for
 * as long as an outage lasts), a readiness probe sees it not ready, and a client gets 503
 * `unavailable`, which is safe to retry with the same key, rather than a refused connection.
 */
export function answerWhileStarting(region: string): RequestListener {
  return (request: IncomingMessage, response: ServerResponse) => {
    // A body is not read, whatever its size: the connection closes after the answer instead.
    if (request.headers['content-length'] !== undefined || request.headers['transfer-encoding'] !== undefined) {
      response.setHeader('Connection', 'close');
    }
    const path = (request.url ?? '/').split('?')[0];
    const get = request.method === 'GET' || request.method === 'HEAD';
    const request_id = requestIdOf(request.headers['x-request-id']?.toString());
    response.setHeader('X-Request-Id', request_id);
    response.setHeader('X-Region', region);
    response.setHeader('Cache-Control', 'no-store');
    if (get && path === '/health') return send(response, 200, JSON_TYPE, { status: 'ok', region, pid: process.pid });
    if (get && path === '/ready') return send(response, 503, JSON_TYPE, { status: 'database_unreachable' });
    response.setHeader('Retry-After', '1');
    const problem = problemFor('unavailable', 'this pod is starting: its database does not answer yet', { request_id });
    send(response, 503, PROBLEM_CONTENT_TYPE, problem);
  };
}

function send(response: ServerResponse, status: number, content_type: string, body: object): void {
  const text = JSON.stringify(body);
  response.writeHead(status, { 'Content-Type': content_type, 'Content-Length': Buffer.byteLength(text) });
  response.end(text);
}
