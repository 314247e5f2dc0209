import Joi from 'joi';

// Response bodies are described with joi next to the views that build them; /openapi.json turns
// them into JSON Schema (src/http/openapi.ts), where a schema's id becomes a shared component.

/**
 * A view object named `id` in /openapi.json: every key is present (null when empty) unless marked
 * `.optional()`, and no other key, so a field added to a view without its schema fails the
 * contract test.
 */
export function viewSchema(id: string, keys: Joi.PartialSchemaMap): Joi.ObjectSchema {
  return Joi.object(keys).prefs({ presence: 'required' }).id(id);
}

/** Every key of a view type (of each member of a union). */
type AllKeys<T> = T extends unknown ? keyof T : never;

/**
 * For `viewSchema(id, {...} satisfies ViewKeys<SomeView>)`: a key the view has and its schema
 * lacks, or the reverse, does not compile.
 */
export type ViewKeys<T> = Record<AllKeys<T>, Joi.Schema>;

/** A nested object of a view, with the same presence rule but no name of its own. */
export function viewPart(keys: Joi.PartialSchemaMap): Joi.ObjectSchema {
  return Joi.object(keys).prefs({ presence: 'required' });
}

/**
 * The members of a string union as an array, for `Joi.string().valid(...)`: the record makes the
 * compiler refuse a missing or an unknown member, so a schema cannot drift from its type.
 */
export function unionMembers<T extends string>(members: Record<T, true>): T[] {
  return Object.keys(members) as T[];
}

export const timestampSchema = Joi.string().isoDate().description('RFC 3339 UTC');
export const idSchema = Joi.string().guid();
/** An amount in minor units (cents); negative only where a view says so (ledger legs). */
export const minorSchema = Joi.number().integer();

/** Characters of a metadata key (SPEC §10). */
export const METADATA_KEY_PATTERN = /^[A-Za-z0-9_.-]+$/;

/** `metadata` of a money object (SPEC §10): the client's string values by key, {} when none. */
export const metadataViewSchema = Joi.object()
  .pattern(METADATA_KEY_PATTERN, Joi.string().allow(''))
  .description('What the client attached to the object, as sent');

/** The keys of a partner's event held for review (PSP, payout provider): `whose` names the partner, `review_path` the settling route. */
export function eventReviewKeys(whose: string, review_path: string) {
  return {
    event_id: Joi.string().description(`${whose} event id`),
    log_id: Joi.string().description(`Its key in the event log: what ${review_path} takes`),
    outcome: Joi.string(),
    reason: Joi.string().allow(null).description('Why it is held for review'),
    received_at: timestampSchema,
    settled_at: timestampSchema.allow(null),
    settlement: Joi.string().allow(null).description("The operator's note once settled (settled once: another note is 409)"),
    settled_by: Joi.string().allow(null).description('Who settled it (service:<name>)'),
  };
}
