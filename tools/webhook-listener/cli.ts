import { commandArgs, reportFailures, wholeNumber } from '../../src/cli/command.js';
import { startWebhookListener, type ReceivedDelivery } from './listener.js';
import { closeOnSignal } from '../stop-on-signal.js';

// npm run webhooks -- listen --port 4300 --secret whsec_… [--secret whsec_… ] [--fail-first 3] [--status 500] [--json]
// Receives webhook deliveries, verifies their Creditshop-Signature with every --secret given (a
// rotation's overlap: old and new), prints one line per delivery (the whole event with --json),
// and answers 200, or --status to the first --fail-first deliveries (to watch the retries).

const USAGE = 'usage: npm run webhooks -- listen --port <port> --secret <whsec_…> [--secret …] [--fail-first <n> --status <code>] [--json]';

function main(): void {
  reportFailures('webhooks', USAGE);
  const { values, positionals } = commandArgs(
    {
      allowPositionals: true,
      options: {
        port: { type: 'string', default: '4300' },
        host: { type: 'string', default: '127.0.0.1' },
        secret: { type: 'string', multiple: true, default: [] },
        'fail-first': { type: 'string', default: '0' },
        status: { type: 'string', default: '500' },
        'tolerance-s': { type: 'string', default: '300' },
        json: { type: 'boolean', default: false },
      },
    },
    USAGE,
  );
  if (positionals[0] !== 'listen' || values.secret.length === 0) {
    console.error(USAGE);
    process.exit(2);
  }
  const port = wholeNumber('port', values.port, 0, 65_535);
  const status = wholeNumber('status', values.status, 100, 599);
  const tolerance_s = wholeNumber('tolerance-s', values['tolerance-s'], 1, 86_400);
  let failures_left = wholeNumber('fail-first', values['fail-first'], 0, 1_000_000);
  const print = (delivery: ReceivedDelivery) => {
    const verdict = delivery.verified ? `verified (${delivery.signatures} v1)` : `REJECTED: ${delivery.reason}`;
    const account = delivery.event?.account_id ? ` ${delivery.event.account_id}#${delivery.event.account_sequence}` : '';
    console.log(
      `${new Date(delivery.received_at_ms).toISOString()} ${delivery.event_type ?? '?'} ${delivery.event_id ?? '?'}${account} ` +
        `attempt ${delivery.attempt ?? '?'} ${verdict} -> ${delivery.status}`,
    );
    if (values.json && delivery.event) console.log(JSON.stringify(delivery.event, null, 2));
  };
  startWebhookListener({
    port,
    host: values.host,
    secrets: values.secret,
    tolerance_s,
    answer: () => (failures_left-- > 0 ? status : 200),
    onDelivery: print,
  })
    .then((listener) => {
      console.error(`listening on http://${values.host}:${listener.port}/ with ${values.secret.length} secret(s); Ctrl-C stops`);
      closeOnSignal(listener);
    })
    .catch((error: unknown) => {
      console.error(`cannot listen: ${String(error)}`);
      process.exit(1);
    });
}

main();
