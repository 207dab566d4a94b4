/** Surface-1 routes the tests use as typical @Requires2FA routes. */
export const PAT_ROUTE = '/api/v1/users.generatePersonalAccessToken'; // @Requires2FA(): rememberable
export const DISABLE_EMAIL_ROUTE = '/api/v1/users.2fa.disableEmail'; // @Requires2FA({ rememberable: false })
export const DELETE_ACCOUNT_ROUTE = '/api/v1/users.deleteOwnAccount'; // @Requires2FA({ rememberable: false })
