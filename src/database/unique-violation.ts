/** PostgreSQL's unique_violation: the index settled a race that a prior check could not. */
export const isUniqueViolation = (error: unknown): boolean => {
  const candidate = error as { code?: unknown; driverError?: { code?: unknown } } | null;
  return candidate?.code === '23505' || candidate?.driverError?.code === '23505';
};
