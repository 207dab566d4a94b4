import { plainToInstance } from 'class-transformer';
import { validateSync } from 'class-validator';
import { Body, type ExecutionContext } from '@nestjs/common';
import { describe, expect, it } from 'vitest';
import { ErrorCode } from '../../common/domain-error.js';
import { SendEmailCodeDto } from '../v1/dto/two-factor.dto.js';
import { BasicInfoDto, RegisterDto } from '../v1/dto/users.dto.js';
import { createValidationPipe, validateBodyEarly, validationExceptionFactory } from './validation-pipe.js';

const errorsOf = <T extends object>(type: new () => T, body: Record<string, unknown>) =>
  validateSync(plainToInstance(type, body), { whitelist: true });

describe('validationExceptionFactory', () => {
  it('reports a missing required parameter as PARAMETER_REQUIRED', () => {
    const error = validationExceptionFactory(errorsOf(SendEmailCodeDto, {}));
    expect(error.code).toBe(ErrorCode.ParameterRequired);
    expect(error.message).toBe('emailOrUsername is required');
  });

  it('names fields, not values', () => {
    const error = validationExceptionFactory(
      errorsOf(RegisterDto, { username: 'bob', email: 'bob@example.com', pass: 12345678, name: ['hunter2'] }),
    );
    expect(error.code).toBe(ErrorCode.InvalidParams);
    expect(error.message).toContain('pass is invalid');
    expect(error.message).toContain('name is invalid');
    expect(error.message).not.toContain('hunter2');
    expect(error.message).not.toContain('12345678');
  });
});

describe('createValidationPipe', () => {
  const pipe = createValidationPipe();

  it('drops unknown fields instead of refusing them', async () => {
    const value = await pipe.transform(
      {
        username: 'bob',
        email: 'bob@example.com',
        pass: 'long enough',
        name: 'Bob',
        roles: ['admin'],
        joinDefaultChannels: true,
      },
      { type: 'body', metatype: RegisterDto },
    );
    expect(value).toBeInstanceOf(RegisterDto);
    expect(Object.keys(value as object).sort()).toEqual(['email', 'name', 'pass', 'username']);
  });

  it('treats null as a value, not as "left out", for optional fields', async () => {
    await expect(pipe.transform({ name: null }, { type: 'body', metatype: BasicInfoDto })).rejects.toMatchObject({
      code: ErrorCode.InvalidParams,
      message: 'name is invalid',
    });
    await expect(pipe.transform({}, { type: 'body', metatype: BasicInfoDto })).resolves.toBeInstanceOf(BasicInfoDto);
  });
});

describe('validateBodyEarly', () => {
  class Controller {
    register(@Body() _body: RegisterDto): void {}
  }
  const contextFor = (body: unknown) =>
    ({
      getClass: () => Controller,
      getHandler: () => Controller.prototype.register,
      switchToHttp: () => ({ getRequest: () => ({ body }) }),
    }) as unknown as ExecutionContext;
  const body = () => ({ username: 'bob', email: 'bob@example.com', pass: 'long enough', name: 'Bob', extra: 1 });

  it("validates the route's body ahead of the pipes, refusing what the pipe would refuse", async () => {
    await expect(validateBodyEarly(contextFor({ username: 'bob' }))).rejects.toMatchObject({ code: ErrorCode.InvalidParams });
  });

  it('leaves its result to the pipe: the same body is not validated twice', async () => {
    const raw = body();
    await validateBodyEarly(contextFor(raw));
    const pipe = createValidationPipe();
    const first = await pipe.transform(raw, { type: 'body', metatype: RegisterDto });
    expect(first).toBeInstanceOf(RegisterDto);
    await expect(pipe.transform(raw, { type: 'body', metatype: RegisterDto })).resolves.toBe(first);
    // Another body of the same content is validated on its own.
    await expect(pipe.transform(body(), { type: 'body', metatype: RegisterDto })).resolves.not.toBe(first);
  });
});
