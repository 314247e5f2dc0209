import { pino, type Logger } from 'pino';

export type { Logger };

// Anything that can carry a credential is censored wherever it appears in a log object.
const REDACTED_PATHS = [
  'authorization',
  '*.authorization',
  'headers.authorization',
  '*.headers.authorization',
  'headers["psp-signature"]',
  '*.headers["psp-signature"]',
  'headers["stripe-signature"]',
  '*.headers["stripe-signature"]',
  'token',
  '*.token',
  'password',
  '*.password',
  'secret',
  '*.secret',
  'secrets_key',
  '*.secrets_key',
  '*.*.secrets_key',
  'headers["creditshop-signature"]',
  '*.headers["creditshop-signature"]',
  'secret_key',
  '*.secret_key',
  'webhook_secret',
  '*.webhook_secret',
  'client_secret',
  '*.client_secret',
  'stripe_client_secret',
  '*.stripe_client_secret',
  'database_url',
  '*.database_url',
  'connectionString',
  '*.connectionString',
];

export function createLogger(options: { level: string; region?: string; name?: string }, destination?: pino.DestinationStream): Logger {
  const settings: pino.LoggerOptions = {
    level: options.level,
    name: options.name ?? 'creditshop',
    base: options.region ? { region: options.region, pid: process.pid } : { pid: process.pid },
    redact: { paths: REDACTED_PATHS, censor: '[redacted]' },
    timestamp: pino.stdTimeFunctions.isoTime,
  };
  return destination ? pino(settings, destination) : pino(settings);
}
