/** Every object belongs to one tenant; the id is also a Store key segment. */
export const TENANT_ID_SHAPE = /^[a-z0-9][a-z0-9_-]{0,62}$/;

export class InvalidTenantIdError extends Error {
  override readonly name = "InvalidTenantIdError";
}

export function assertTenantId(id: string): void {
  if (!TENANT_ID_SHAPE.test(id)) {
    throw new InvalidTenantIdError(`tenant id "${id}" must match ${TENANT_ID_SHAPE.source}`);
  }
}

/** Who is calling: the tenant the request acts for and the key it used. */
export interface Principal {
  readonly tenantId: string;
  readonly keyId: string;
  /** The key's usage budget in device seconds, when it has one. */
  readonly budgetSeconds?: number;
}
