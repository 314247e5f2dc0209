import { connect, createServer, type Server, type Socket } from 'node:net';

/**
 * A TCP proxy that delivers every chunk `delay_ms` late in each direction, in order: put between
 * the pods and PostgreSQL it adds 2 × delay_ms to every round trip, like a database in another
 * zone (COCKROACH.md: round trips are the currency of latency on a multi-region cluster).
 */
export interface DelayProxy {
  port: number;
  close(): Promise<void>;
}

function delayed(from: Socket, to: Socket, delay_ms: number): void {
  // Each chunk leaves delay_ms after it arrived; timers of equal delay fire in arrival order.
  from.on('data', (chunk) => {
    setTimeout(() => {
      if (!to.destroyed) to.write(chunk);
    }, delay_ms);
  });
  from.on('end', () => setTimeout(() => to.end(), delay_ms));
  from.on('error', () => to.destroy());
  from.on('close', () => setTimeout(() => to.destroy(), delay_ms));
}

export async function startDelayProxy(target: { host: string; port: number }, delay_ms: number): Promise<DelayProxy> {
  const sockets = new Set<Socket>();
  const server: Server = createServer((client) => {
    client.setNoDelay(true);
    const upstream = connect(target.port, target.host);
    upstream.setNoDelay(true);
    for (const socket of [client, upstream]) {
      sockets.add(socket);
      socket.on('close', () => sockets.delete(socket));
    }
    delayed(client, upstream, delay_ms);
    delayed(upstream, client, delay_ms);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  return {
    port: typeof address === 'object' && address ? address.port : 0,
    close: async () => {
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
