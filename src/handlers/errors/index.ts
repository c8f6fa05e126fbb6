export { ERROR_CODES, ERROR_CODE_LIST, codeForStatus, statusOf, type ErrorCode } from "./codes.js";
export { ApiError } from "./api-error.js";
export { PROBLEM_CONTENT_TYPE, PROBLEM_TYPE_PREFIX, buildProblem, problemResponse, type Problem, type ValidationIssue } from "./problem.js";
export { createErrorHandler, notFoundHandler, type ErrorLogger } from "./on-error.js";
export { validationFailed, validationHook, validationIssues } from "./validation-hook.js";
