declare module 'async-exit-hook' {
  interface ExitHook {
    (hook: (done?: () => void) => void): void;
    /** Stops listening to `event` (its hooks no longer run for it). */
    unhookEvent(event: string): void;
    /** The events it listens to. */
    hookedEvents(): string[];
  }
  const exitHook: ExitHook;
  export default exitHook;
}
