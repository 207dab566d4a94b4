import { SetMetadata, type ExecutionContext } from '@nestjs/common';
import { describe, expect, it, vi } from 'vitest';
import { routeMetadata } from './route-metadata.js';

const contextOf = (controller: new () => object, handler: (...args: never[]) => unknown) =>
  ({ getClass: () => controller, getHandler: () => handler }) as unknown as ExecutionContext;

describe('routeMetadata', () => {
  @SetMetadata('limit', 'class')
  class Controller {
    @SetMetadata('limit', 'handler')
    own() {}
    inherited() {}
  }

  it("prefers the handler's value, falls back to the controller's, and is undefined when neither says", () => {
    expect(routeMetadata('limit', contextOf(Controller, Controller.prototype.own))).toBe('handler');
    expect(routeMetadata('limit', contextOf(Controller, Controller.prototype.inherited))).toBe('class');
    expect(routeMetadata('other', contextOf(Controller, Controller.prototype.own))).toBeUndefined();
  });

  it('reads the decorators once per route and key, an absent value included', () => {
    const read = vi.spyOn(Reflect, 'getMetadata');
    try {
      const context = contextOf(Controller, Controller.prototype.inherited);
      routeMetadata('absent', context);
      const afterFirst = read.mock.calls.length;
      expect(afterFirst).toBe(2);
      for (let i = 0; i < 5; i++) expect(routeMetadata('absent', context)).toBeUndefined();
      expect(read.mock.calls.length).toBe(afterFirst);
    } finally {
      read.mockRestore();
    }
  });

  it('keeps the same handler under two controllers apart', () => {
    @SetMetadata('limit', 'second')
    class Second {}
    const shared = Controller.prototype.inherited;
    expect(routeMetadata('limit', contextOf(Controller, shared))).toBe('class');
    expect(routeMetadata('limit', contextOf(Second, shared))).toBe('second');
  });
});
