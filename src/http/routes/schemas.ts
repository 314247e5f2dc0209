import Joi from 'joi';
import { ACCOUNT_ID_PATTERN, UUID_PATTERN } from '../../domain/ids.js';
import { viewSchema } from '../../platform/view-schema.js';

export const accountIdSchema = Joi.string().pattern(ACCOUNT_ID_PATTERN).messages({
  'string.pattern.base': '{{#label}} must be 1 to 64 characters of A-Z, a-z, 0-9, _ and -',
});
export const uuidSchema = Joi.string().pattern(UUID_PATTERN).messages({ 'string.pattern.base': '{{#label}} must be a UUID' });

/** In paths an account may also be a system account (`@revenue`): services with a reading scope may look at it. */
const accountRefSchema = Joi.string()
  .pattern(/^@?[A-Za-z0-9_-]{1,64}$/)
  .messages({
    'string.pattern.base': '{{#label}} must be an account id (1 to 64 of A-Z, a-z, 0-9, _ and -) or a system account (@name)',
  });
export const accountParams = Joi.object({ id: accountRefSchema.required() });
/** Money moves only on player accounts; system accounts move only as the other side of a posting. */
export const playerAccountParams = Joi.object({ id: accountIdSchema.required() });
export const uuidParams = Joi.object({ id: uuidSchema.required() });

export function pageQuery(page_size_max: number, page_size_default: number, extra: Joi.PartialSchemaMap = {}) {
  return Joi.object({
    limit: Joi.number().integer().min(1).max(page_size_max).default(page_size_default),
    cursor: Joi.string()
      .max(512)
      .pattern(/^[A-Za-z0-9_-]+$/),
    ...extra,
  });
}

/** SPEC §4 lists, `{ data: [...], next_cursor }`, named `id` in /openapi.json. */
export function pageSchema(id: string, item: Joi.Schema): Joi.ObjectSchema {
  return viewSchema(id, {
    data: Joi.array().items(item),
    next_cursor: Joi.string().allow(null).description('Pass as `cursor` for the next page; null on the last page'),
  });
}
