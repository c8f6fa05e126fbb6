/** Where a tenant's uploads live: `tenants/<tenant>/uploads/<upload id>`. */
export function uploadKey(tenantId: string, uploadId: string): string {
  return `tenants/${tenantId}/uploads/${uploadId}`;
}
