import { parseArgs } from 'node:util';
import { DEVELOPMENT_PAYOUT_SECRET } from '../../src/platform/wallet-config.js';
import { PAYOUT_MODES, startPayoutSimulator, type PayoutMode } from './payout-simulator.js';
import { closeOnSignal } from '../stop-on-signal.js';

const USAGE = `usage: npm run payouts -- [--port 4100] [--host 127.0.0.1] [--callback-url http://127.0.0.1:3001[,http://127.0.0.1:3002]]
       [--mode ${PAYOUT_MODES.join('|')}] [--delay-ms 500]
Signs callbacks with PAYOUT_WEBHOOK_SECRET (the development secret unless set). Per payout, a destination
reference starting with sim:<mode> picks another mode.`;

function integerArg(name: string, text: string): number {
  if (!/^\d+$/.test(text)) throw new TypeError(`--${name} must be a non-negative integer, got '${text}'`);
  return Number(text);
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      port: { type: 'string', default: '4100' },
      host: { type: 'string', default: '127.0.0.1' },
      'callback-url': { type: 'string', default: 'http://127.0.0.1:3001' },
      mode: { type: 'string', default: 'instant' },
      'delay-ms': { type: 'string', default: '500' },
    },
  });
  if (!(PAYOUT_MODES as readonly string[]).includes(values.mode)) throw new TypeError(`--mode must be one of ${PAYOUT_MODES.join(', ')}`);
  const simulator = await startPayoutSimulator({
    host: values.host,
    port: integerArg('port', values.port),
    callback_urls: values['callback-url'].split(',').filter(Boolean),
    secret: process.env['PAYOUT_WEBHOOK_SECRET'] ?? DEVELOPMENT_PAYOUT_SECRET,
    mode: values.mode as PayoutMode,
    delay_ms: integerArg('delay-ms', values['delay-ms']),
  });
  process.stderr.write(
    [
      `payout simulator at ${simulator.url} (mode ${values.mode}), calling back ${values['callback-url']}`,
      `pods: PAYOUT_PROVIDER_URL=${simulator.url}`,
      `payouts: curl ${simulator.url}/payouts; one: curl ${simulator.url}/payouts/<withdrawal id>`,
      'Ctrl-C stops it.',
      '',
    ].join('\n'),
  );
  closeOnSignal(simulator);
}

main().catch((error: unknown) => {
  process.stderr.write(`${error instanceof Error ? error.message : String(error)}\n${USAGE}\n`);
  process.exit(2);
});
