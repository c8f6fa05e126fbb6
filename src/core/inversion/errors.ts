/** The objective, state or initial parameters cannot be used together (a programming or configuration error). */
export class InvalidRunError extends Error {
  override name = "InvalidRunError";
}
