// GET /store/patron/offer?cart_id= -> {offer} from offers.decide for the logged-in customer
// and that Medusa cart (lines per variant, minor units): {offer_id, discount, currency,
// token, ...}, or null (no offer, held out, Patron down, nobody logged in).
'use strict';
const { offerCart, CART_FIELDS } = require('../../../../modules/patron/mapping');

exports.GET = async (req, res) => {
  const patron = req.scope.resolve('patron');
  const id = req.auth_context && req.auth_context.actor_id;
  const cartId = String(req.query.cart_id || '');
  if (!id || !cartId) return res.json({ offer: null });
  const query = req.scope.resolve('query');
  const { data: [cart] } = await query.graph({ entity: 'cart', fields: CART_FIELDS, filters: { id: cartId } });
  if (!cart || (cart.customer_id && cart.customer_id !== id)) return res.json({ offer: null });
  res.json({ offer: await patron.client.offer(id, offerCart(cart), { budget: patron.budget() }) });
};
