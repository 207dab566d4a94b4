import { ValidateIf } from 'class-validator';

/**
 * The field may be left out, but `null` is not "left out": it fails the field's rules. (class-validator's
 * IsOptional skips both, which lets `null` reach code that expects a string.)
 */
export const Optional = () => ValidateIf((_object: object, value: unknown) => value !== undefined);

/** No control characters: they have no business in names and would only serve header or log injection. */
export const NO_CONTROL_CHARS = /^[^\p{Cc}]*$/u;

/** A plain object (not an array, not null) whose keys are all among `allowed`. */
export const isObjectWithKeys = (value: unknown, allowed: readonly string[]): value is Record<string, unknown> =>
  value !== null &&
  typeof value === 'object' &&
  !Array.isArray(value) &&
  Object.keys(value).every((key) => allowed.includes(key));
