// middlewares.js -- the plugin's routes' middlewares (Medusa's defineMiddlewares): the store
// routes that answer for "the customer" (tier, points, offer) know them from Medusa's own
// customer authentication (bearer token or session), never from a query parameter; a
// visitor who is not logged in gets the fallbacks. Admin routes are under /admin, which
// Medusa already authenticates.
'use strict';
const { defineMiddlewares, authenticate } = require('@medusajs/framework/http');

const customerOptional = authenticate('customer', ['session', 'bearer'], { allowUnauthenticated: true });
module.exports = {
  default: defineMiddlewares({
    routes: ['/store/patron/tier', '/store/patron/points', '/store/patron/offer'].map((matcher) => ({
      matcher, middlewares: [customerOptional] })),
  }),
};
