/**
 * Object schemas for records kept in the Store and rewritten read-modify-write (docs/STORE.md,
 * "Compatibility"). During a rolling deploy an older process reads records a newer one wrote:
 * unknown fields are accepted and kept in the parsed value (zod's loose object), so a rewrite
 * that spreads the parsed record passes them on unchanged instead of refusing or dropping them.
 *
 * The static type names only the known fields: a loose object's inferred type adds an index
 * signature, which would turn `Omit<Record, "x">` into `{}` and let misspelt fields through
 * object literals. The extra fields exist at run time only, like any property TypeScript does
 * not know about.
 */
import { z } from "zod";

export function storedObject<const Shape extends z.core.$ZodLooseShape>(shape: Shape): z.ZodObject<z.core.util.Writeable<Shape>, z.core.$strip> {
  return z.looseObject(shape) as unknown as z.ZodObject<z.core.util.Writeable<Shape>, z.core.$strip>;
}
