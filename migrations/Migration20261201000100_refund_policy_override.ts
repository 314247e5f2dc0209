import { SharedMigration } from './support.js';

export class Migration20261201000100_refund_policy_override extends SharedMigration {
  override async up(): Promise<void> {
    // Who overrode the refund policy (a service with refunds:write, by its token subject); NULL: the policy applied.
    this.addSql('ALTER TABLE order_refunds ADD COLUMN policy_overridden_by TEXT');
  }
}
