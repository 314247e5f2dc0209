import { parseArgs, type ParseArgsConfig } from 'node:util';
import { DatabaseUnavailable, sqlState, unavailableKind } from '../db/database-errors.js';
import { ConfigError } from '../platform/config.js';

/**
 * What every command line tool shares: its arguments read strictly (an unknown option, a missing
 * value or an extra argument prints the usage and exits 2; `--help` prints it and exits 0), and
 * its failures reported as a person needs them. A mistake of the person running it (an argument, a
 * setting, a database that refuses the login or does not exist, one that cannot be reached in
 * time) is one line and exit 2, never a stack trace; anything else is a defect, printed whole.
 */

/** A mistake in a command's input, found after its arguments were read (a value out of range). */
export class UsageError extends Error {}

// SQLSTATE class 28 (invalid authorization) and 3D000 (no such database): the URL given is wrong.
const REFUSED_LOGIN = /^(28|3D000$)/;

function isPersonsMistake(error: unknown): boolean {
  if (error instanceof ConfigError || error instanceof UsageError || error instanceof DatabaseUnavailable) return true;
  const state = sqlState(error);
  return state !== undefined && REFUSED_LOGIN.test(state);
}

/**
 * Installs the failure report of command `name`: call it first, before anything can fail. Returns
 * what removes it: a pod that has started is no longer a command whose input can be wrong, and
 * what escapes it then is a defect, for Node to report whole.
 */
export function reportFailures(name: string, usage?: string): () => void {
  const report = (error: unknown) => {
    if (!isPersonsMistake(error)) {
      process.stderr.write(`${name}: unexpected failure\n${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
      process.exit(1);
    }
    const message =
      error instanceof DatabaseUnavailable
        ? `the database cannot serve (${unavailableKind(error).replace('_', '-')}); gave up waiting`
        : error instanceof Error
          ? error.message
          : String(error);
    process.stderr.write(`${name}: ${message}\n${error instanceof UsageError && usage ? `${usage}\n` : ''}`);
    process.exit(2);
  };
  process.on('uncaughtException', report);
  process.on('unhandledRejection', report);
  return () => {
    process.off('uncaughtException', report);
    process.off('unhandledRejection', report);
  };
}

/** A whole-number option `--name` within [min, max], or a usage mistake naming it. */
export function wholeNumber(name: string, text: string, min: number, max: number): number {
  const value = Number(text);
  if (!/^\d+$/.test(text) || value < min || value > max) throw new UsageError(`--${name} must be a whole number from ${min} to ${max}`);
  return value;
}

/** The command's arguments, read strictly; `--help` (or `-h`) prints `usage` and exits 0. */
export function commandArgs<T extends ParseArgsConfig>(config: T, usage: string): ReturnType<typeof parseArgs<T>> {
  const args = config.args ?? process.argv.slice(2);
  if (args.includes('--help') || args.includes('-h')) {
    process.stdout.write(`${usage}\n`);
    process.exit(0);
  }
  try {
    // Strict unless a command says otherwise (parseArgs' default).
    return parseArgs(config);
  } catch (error) {
    process.stderr.write(`${(error as Error).message}\n${usage}\n`);
    process.exit(2);
  }
}
