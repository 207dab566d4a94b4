/**
 * The one source of "now" for every expiry decision, so tests can move time instead of sleeping.
 * Queries take `now` as a parameter rather than calling SQL `now()` for the same reason.
 */
export abstract class Clock {
  abstract now(): Date;
}

export class SystemClock extends Clock {
  now(): Date {
    return new Date();
  }
}

export const addSeconds = (date: Date, seconds: number): Date => new Date(date.getTime() + seconds * 1000);
