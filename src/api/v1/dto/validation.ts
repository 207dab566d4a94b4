import { IsNotEmpty } from 'class-validator';

/** A parameter whose absence Rocket.Chat reports as `error-parameter-required`, not `invalid-params`. */
export const RequiredParam = () => IsNotEmpty({ context: { parameterRequired: true } });

/** No control characters: they have no business in names and would only serve header or log injection. */
export const NO_CONTROL_CHARS = /^[^\p{Cc}]*$/u;
