import { plainToInstance } from 'class-transformer';
import { validateSync } from 'class-validator';
import { describe, expect, it } from 'vitest';
import { SendEmailCodeDto } from './api/v1/dto/two-factor.dto.js';
import { RegisterDto } from './api/v1/dto/users.dto.js';
import { ErrorCode } from './common/domain-error.js';
import { validationExceptionFactory } from './configure-app.js';

const errorsOf = <T extends object>(type: new () => T, body: Record<string, unknown>) =>
  validateSync(plainToInstance(type, body), { whitelist: true, forbidNonWhitelisted: true });

describe('validationExceptionFactory', () => {
  it('reports a missing required parameter as PARAMETER_REQUIRED', () => {
    const error = validationExceptionFactory(errorsOf(SendEmailCodeDto, {}));
    expect(error.code).toBe(ErrorCode.ParameterRequired);
    expect(error.message).toBe('emailOrUsername is required');
  });

  it('names fields, not values, for invalid and unknown ones', () => {
    const error = validationExceptionFactory(
      errorsOf(RegisterDto, { username: 'bob', email: 'bob@example.com', pass: 12345678, name: 'Bob', admin: 'hunter2' }),
    );
    expect(error.code).toBe(ErrorCode.InvalidParams);
    expect(error.message).toContain('pass is invalid');
    expect(error.message).toContain('admin is not allowed');
    expect(error.message).not.toContain('hunter2');
    expect(error.message).not.toContain('12345678');
  });
});
