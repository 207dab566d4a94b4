import type { ExecutionContext } from '@nestjs/common';

type Target = object;

/** Per controller class, per handler, per key: what the route's decorators said. */
const resolved = new WeakMap<Target, WeakMap<Target, Map<string, unknown>>>();

/**
 * A route's metadata for `key`, the handler's own before its controller's (Reflector's
 * getAllAndOverride), read once per route: decorators are fixed at start-up, and every global guard
 * asks on every request, which the profile of GET /api/v1/me showed as reflect-metadata lookups.
 */
export function routeMetadata<T>(key: string, context: ExecutionContext): T | undefined {
  const controller = context.getClass();
  const handler = context.getHandler();
  let handlers = resolved.get(controller);
  if (!handlers) resolved.set(controller, (handlers = new WeakMap()));
  let keys = handlers.get(handler);
  if (!keys) handlers.set(handler, (keys = new Map()));
  if (keys.has(key)) return keys.get(key) as T | undefined;
  const value = (Reflect.getMetadata(key, handler) ?? Reflect.getMetadata(key, controller)) as T | undefined;
  keys.set(key, value);
  return value;
}
