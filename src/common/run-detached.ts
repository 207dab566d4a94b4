import type { Logger } from '@nestjs/common';
import { isDomainError } from './domain-error.js';

/**
 * Runs `work` after the current request has answered. For endpoints that must answer the same,
 * in the same time, whether or not the account exists: the lookup and the mail happen here.
 */
export function runDetached(logger: Logger, what: string, work: () => Promise<unknown>): void {
  setImmediate(() => {
    work().catch((error: unknown) => {
      // A domain refusal (say a locked account) changes nothing about the answer already given.
      if (isDomainError(error)) logger.debug(`${what}: skipped (${error.code})`);
      else logger.error(`${what} failed: ${String(error)}`);
    });
  });
}
