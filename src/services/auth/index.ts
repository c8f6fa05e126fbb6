export { API_KEY_PREFIX, apiKeyId, bearerToken, generateApiKey, hashApiKey, looksLikeApiKey } from "./api-key.js";
export { ApiKeyRegistry, CorruptApiKeyRecordError, type ApiKeyRecord, type IssueOptions } from "./key-registry.js";
export { assertTenantId, InvalidTenantIdError, TENANT_ID_SHAPE, type Principal } from "./tenant.js";
