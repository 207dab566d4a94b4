import { type ArgumentMetadata, type ExecutionContext, type Type, ValidationError, ValidationPipe } from '@nestjs/common';
import { RouteParamtypes } from '@nestjs/common/enums/route-paramtypes.enum.js';
import { ROUTE_ARGS_METADATA } from '@nestjs/common/constants.js';
import { DomainError, ErrorCode } from '../../common/domain-error.js';

const flatten = (errors: ValidationError[], parent = ''): ValidationError[] =>
  errors.flatMap((error) => {
    const path = parent ? `${parent}.${error.property}` : error.property;
    return error.children?.length ? flatten(error.children, path) : [{ ...error, property: path }];
  });

/** Names the fields and the rule they broke, never the values (they may be passwords or codes). */
export const validationExceptionFactory = (errors: ValidationError[]): DomainError => {
  const flat = flatten(errors);
  const required = flat.find(
    (error) =>
      Object.values(error.contexts ?? {}).some((context) => (context as { parameterRequired?: boolean }).parameterRequired) &&
      (error.value === undefined || error.value === null || error.value === ''),
  );
  if (required) return new DomainError(ErrorCode.ParameterRequired, `${required.property} is required`);
  const problems = flat.map((error) => `${error.property} is invalid`);
  return new DomainError(ErrorCode.InvalidParams, [...new Set(problems)].join('; ') || 'Invalid parameters');
};

/**
 * Bodies already validated for a route by validateBodyEarly, and what their validation produced:
 * the pipe hands that over instead of validating the same body a second time.
 */
const validatedBodies = new WeakMap<object, unknown>();

/** ValidationPipe, reusing an early validation of the same body (see validateBodyEarly). */
class ApiValidationPipe extends ValidationPipe {
  // Not async: every parameter of every request passes here, and an extra promise each is not free.
  override transform(value: unknown, metadata: ArgumentMetadata): Promise<unknown> {
    if (metadata.type === 'body' && typeof value === 'object' && value !== null && validatedBodies.has(value)) {
      return Promise.resolve(validatedBodies.get(value));
    }
    return super.transform(value, metadata);
  }
}

/** The one validation every route of both surfaces gets. */
export const createValidationPipe = (): ValidationPipe =>
  new ApiValidationPipe({
    // Unknown fields are dropped before validation and never reach the code: Rocket.Chat ignores
    // them, and its clients send some (joinDefaultChannels, customFields, …).
    whitelist: true,
    forbidNonWhitelisted: false,
    forbidUnknownValues: true,
    transform: true,
    transformOptions: { enableImplicitConversion: false },
    validationError: { target: false, value: true },
    exceptionFactory: validationExceptionFactory,
  });

const bodyPipe = createValidationPipe();

/** The type of a handler's @Body() parameter, read once per handler; null when it has none. */
const bodyTypes = new WeakMap<object, Type | null>();

function bodyTypeOf(context: ExecutionContext): Type | null {
  const handler = context.getHandler();
  let type = bodyTypes.get(handler);
  if (type === undefined) {
    const args: Record<string, { index: number }> =
      Reflect.getMetadata(ROUTE_ARGS_METADATA, context.getClass(), handler.name) ?? {};
    const body = Object.entries(args).find(([key]) => key.split(':')[0] === String(RouteParamtypes.BODY));
    const types: Type[] = Reflect.getMetadata('design:paramtypes', context.getClass().prototype, handler.name) ?? [];
    type = body ? (types[body[1].index] ?? null) : null;
    bodyTypes.set(handler, type);
  }
  return type;
}

/**
 * Validates the route's @Body() now, ahead of the pipes. Guards run before pipes, so a route
 * guard that acts (mails a second-factor code, counts an attempt) would otherwise act on a request
 * its own validation is about to refuse. The pipe then reuses the result.
 */
export async function validateBodyEarly(context: ExecutionContext): Promise<void> {
  const metatype = bodyTypeOf(context);
  if (metatype === null) return;
  const { body } = context.switchToHttp().getRequest<{ body?: unknown }>();
  const validated = await bodyPipe.transform(body, { type: 'body', metatype });
  if (typeof body === 'object' && body !== null) validatedBodies.set(body, validated);
}
