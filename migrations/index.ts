import { InitialSchema1763780000000 } from './1763780000000-initial-schema.js';
import { AuditEvents1763790000000 } from './1763790000000-audit-events.js';
import { TotpBackupCodes1763800000000 } from './1763800000000-totp-backup-codes.js';
import { Challenges1763810000000 } from './1763810000000-challenges.js';
import { PersonalTokenLastPart1764300000000 } from './1764300000000-personal-token-last-part.js';
import { TokenSessions1764400000000 } from './1764400000000-token-sessions.js';
import { RetentionIndexes1764500000000 } from './1764500000000-retention-indexes.js';
import { AccountSnapshot1764600000000 } from './1764600000000-account-snapshot.js';

/** Listed explicitly (not globbed) so the app, the CLI and the tests load the same classes. */
export const migrations = [
  InitialSchema1763780000000,
  AuditEvents1763790000000,
  TotpBackupCodes1763800000000,
  Challenges1763810000000,
  PersonalTokenLastPart1764300000000,
  TokenSessions1764400000000,
  RetentionIndexes1764500000000,
  AccountSnapshot1764600000000,
];
