import { AuditEvent } from '../audit/audit-event.entity.js';
import { Session } from '../auth/session.entity.js';
import { Challenge } from '../challenge/challenge.entity.js';
import { MailOutbox } from '../mail/mail-outbox.entity.js';
import { BackupCode } from '../two-factor/backup-code.entity.js';
import { EmailCode } from '../two-factor/email-code.entity.js';
import { TwoFactorMethod } from '../two-factor/two-factor-method.entity.js';
import { UserEmail } from '../users/user-email.entity.js';
import { User } from '../users/user.entity.js';

/** Listed explicitly so the app, the CLI and the tests see the same set. */
export const entities = [User, UserEmail, Session, TwoFactorMethod, EmailCode, MailOutbox, AuditEvent, BackupCode, Challenge];
