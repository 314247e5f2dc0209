import { afterAll, afterEach } from 'vitest';
import { takeContractViolations } from './openapi-contract.js';

// Answers that depart from /openapi.json fail the test that received them, even when the test
// caught the request's error or never looked at the answer.
function failOnViolations(): void {
  const violations = takeContractViolations();
  if (violations.length > 0) throw new Error(`answers that /openapi.json does not describe:\n${violations.join('\n')}`);
}

afterEach(failOnViolations);
afterAll(failOnViolations);
