/** Ctrl-C or SIGTERM closes what a tool started, then exits 0: the simulators and the listener run until told to stop. */
export function closeOnSignal(running: { close(): Promise<void> }): void {
  const stop = () => void running.close().then(() => process.exit(0));
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
}
