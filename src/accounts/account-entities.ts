import { EntitySchema } from '@mikro-orm/core';

export interface AccountRow {
  id: string;
  kind: 'player' | 'system';
  crdb_region: string;
  created_at: string;
}

export interface WalletRow {
  account_id: string;
  currency: string;
  balance_minor: string;
  held_minor: string;
  crdb_region: string;
  created_at: string;
  updated_at: string;
}

export const AccountEntity = new EntitySchema<AccountRow>({
  name: 'Account',
  tableName: 'accounts',
  properties: {
    id: { type: 'string', primary: true },
    kind: { type: 'string' },
    crdb_region: { type: 'string', fieldName: 'crdb_region' },
    created_at: { type: 'string', columnType: 'timestamptz', fieldName: 'created_at' },
  },
});

export const WalletEntity = new EntitySchema<WalletRow>({
  name: 'Wallet',
  tableName: 'wallets',
  properties: {
    account_id: { type: 'string', primary: true, fieldName: 'account_id' },
    currency: { type: 'string', primary: true },
    // INT8 stays a string until src/db/sql.ts#int8 checks it is a safe integer.
    balance_minor: { type: 'string', columnType: 'int8', fieldName: 'balance_minor' },
    held_minor: { type: 'string', columnType: 'int8', fieldName: 'held_minor' },
    crdb_region: { type: 'string', fieldName: 'crdb_region' },
    created_at: { type: 'string', columnType: 'timestamptz', fieldName: 'created_at' },
    updated_at: { type: 'string', columnType: 'timestamptz', fieldName: 'updated_at' },
  },
});
