import Joi from 'joi';

/** Currencies this deployment accepts: ISO-4217 codes and game currencies, upper case. */
export const CURRENCY_PATTERN = /^[A-Z][A-Z0-9]{2,9}$/;

export function currencySchema(supported: readonly string[]) {
  return Joi.string()
    .pattern(CURRENCY_PATTERN)
    .valid(...supported)
    .messages({ 'any.only': '{{#label}} is not a supported currency ({{#valids}})' });
}

/** A positive integer amount in minor units, bounded by the configured per-operation maximum. */
export function amountSchema(amount_max_minor: number) {
  return Joi.number().integer().strict().min(1).max(amount_max_minor);
}

export interface WalletBalance {
  currency: string;
  /** A BigInt only for a system account past 2^53 (its balance is a sum that grows without bound). */
  balance: number | bigint;
  held: number;
  available: number | bigint;
}

export function walletBalance(currency: string, balance_minor: number, held_minor: number): WalletBalance {
  return { currency, balance: balance_minor, held: held_minor, available: balance_minor - held_minor };
}

/** A system account holds nothing back: what it has is available. */
export function systemBalance(currency: string, balance_minor: number | bigint): WalletBalance {
  return { currency, balance: balance_minor, held: 0, available: balance_minor };
}
