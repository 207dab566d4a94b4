/**
 * What the surfaces' authentication guards leave on a request for the layers that run after them
 * (the rate limiter counts authenticated routes per user).
 */
export interface AuthenticatedRequest {
  /** The verified caller: set only once their credentials were checked. */
  authenticatedUserId?: string;
}
