import { AccountEntity, WalletEntity } from '../accounts/account-entities.js';

/** Every MikroORM entity of the application. */
export const ENTITIES = [AccountEntity, WalletEntity];
