import { IsNotEmpty } from 'class-validator';

export { isObjectWithKeys, NO_CONTROL_CHARS, Optional } from '../../shared/validation.js';

/** A parameter whose absence Rocket.Chat reports as `error-parameter-required`, not `invalid-params`. */
export const RequiredParam = () => IsNotEmpty({ context: { parameterRequired: true } });
