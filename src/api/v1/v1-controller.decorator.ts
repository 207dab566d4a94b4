import { applyDecorators, Controller, UseFilters } from '@nestjs/common';
import { ApiTags } from '@nestjs/swagger';
import { V1ExceptionFilter } from './v1-exception.filter.js';

/** A controller of surface 1: under /api/v1, errors in Rocket.Chat's format. */
export const V1Controller = (tag: string) =>
  applyDecorators(Controller('api/v1'), UseFilters(V1ExceptionFilter), ApiTags(`v1: ${tag}`));
