/* offer_redeem.c -- offers.redeem: verify the token, then consume the offer's budget (money
 * and redemptions) and the customer's redemption cap in the caller's write transaction.
 * Invariants: idempotent on the idempotency key (the first answer is stored and replayed; the
 * same key with another token or customer is a conflict); a token is redeemed at most once;
 * every check happens before the first store_put, so a refusal changes nothing; the budget
 * never goes over (a redemption that would exceed it is refused whole). */
#include <stdio.h>

#include "offers/offers_internal.h"

static int refuse(offers_refusal_t r, offers_refusal_t *why, perr_info_t *e, int code,
                  const char *field, const char *msg) {
  if (why) *why = r;
  return perr_set(e, code, field, "%s: %s", offers_refusal_name(r), msg);
}

static void encode_answer(rec_buf_t *b, const unsigned char fp[32],
                          const offers_redeem_out_t *o) {
  rec_buf_init(b);
  rec_put_u8(b, 'R');
  rec_put_u8(b, 1);
  rec_put_raw(b, fp, 32);
  rec_put_str(b, core_pstr(o->offer_id, strlen(o->offer_id)));
  rec_put_uv(b, (uint64_t)o->arm);
  rec_put_sv(b, o->discount);
  rec_put_str(b, core_pstr(o->currency, strlen(o->currency)));
  rec_put_sv(b, o->redemptions_left);
  rec_put_sv(b, o->money_left);
}

static int decode_answer(const void *v, size_t n, unsigned char fp[32], offers_redeem_out_t *o) {
  rec_rd_t rd;
  rec_rd_init(&rd, v, n);
  if (rec_get_u8(&rd) != 'R' || rec_get_u8(&rd) != 1 || rd.end - rd.p < 32) return -1;
  memcpy(fp, rd.p, 32);
  rd.p += 32;
  pstr_t id = rec_get_str(&rd);
  o->arm = (int)rec_get_uv(&rd);
  o->discount = rec_get_sv(&rd);
  pstr_t cur = rec_get_str(&rd);
  o->redemptions_left = rec_get_sv(&rd);
  o->money_left = rec_get_sv(&rd);
  if (!rec_rd_done(&rd) || id.n > OFFERS_ID_MAX || cur.n > 3) return -1;
  memcpy(o->offer_id, id.p, id.n);
  o->offer_id[id.n] = 0;
  memcpy(o->currency, cur.p, cur.n);
  o->currency[cur.n] = 0;
  return 0;
}

/* Checks of the offer against the token and the cart; the discount on success. */
static int check_offer(const offer_t *o, const offers_token_t *tk, const offers_redeem_in_t *in,
                       int64_t *discount, offers_refusal_t *why, perr_info_t *e) {
  const offers_cart_t *cart = in->cart;
  if (o->archived || in->now < o->valid_from || (o->valid_until && in->now >= o->valid_until))
    return refuse(OFFERS_OFFER_INACTIVE, why, e, PERR_CONFLICT, "token",
                  "the offer is archived or outside its validity window");
  if (tk->arm == 0 || tk->arm > o->nvariants)
    return refuse(OFFERS_OFFER_INACTIVE, why, e, PERR_CONFLICT, "token",
                  "the offer's variants changed since the token was issued");
  if (!cart || !cart->currency || strcmp(cart->currency, o->currency) ||
      strcmp(tk->currency, o->currency))
    return refuse(OFFERS_CART_MISMATCH, why, e, PERR_CONFLICT, "cart.currency",
                  "the cart is not in the offer's currency");
  if (cart->value < o->min_cart)
    return refuse(OFFERS_CART_MISMATCH, why, e, PERR_CONFLICT, "cart.value",
                  "the cart is below the offer's minimum");
  *discount = offers_discount(o, tk->value, cart);
  if (*discount <= 0 && o->kind != OFFER_FREE_SHIPPING)
    return refuse(OFFERS_CART_MISMATCH, why, e, PERR_CONFLICT, "cart.lines",
                  "the offer applies to nothing in this cart");
  return 0;
}

int offers_redeem(store_txn_t *w, const offers_keyring_t *ring, const offers_redeem_in_t *in,
                  offers_redeem_out_t *out, offers_refusal_t *why, perr_info_t *e) {
  memset(out, 0, sizeof *out);
  if (why) *why = OFFERS_OK;
  int rc;
  if ((rc = offer_check_id(in->idempotency_key, "idempotency_key", e)) ||
      (rc = offer_check_id(in->customer, "customer_id", e)))
    return rc;
  if (in->cart_ref && strlen(in->cart_ref) > OFFERS_ID_MAX)
    return perr_set(e, PERR_INVALID_PARAMS, "cart_ref", "must be at most 128 bytes");
  unsigned char fp[32], seen_fp[32];
  const char *parts[2] = {in->token, in->customer};
  offer_sha256(parts, 2, fp);
  offer_key_t ik, tkk;
  offer_key_init(&ik, 'r');
  offer_key_str(&ik, in->idempotency_key);
  const void *v;
  size_t vn;
  rc = store_get(w, STORE_T_OFFER_IDEM, ik.b, ik.n, &v, &vn);
  if (rc == 0) {
    if (decode_answer(v, vn, seen_fp, out)) return perr_set(e, PERR_INTERNAL, NULL, "corrupt");
    if (memcmp(fp, seen_fp, 32)) {
      memset(out, 0, sizeof *out);
      return refuse(OFFERS_IDEMPOTENCY_CONFLICT, why, e, PERR_CONFLICT, "idempotency_key",
                    "the key was used for another redemption");
    }
    out->replay = true;
    return 0;
  }
  if (rc != PERR_NOT_FOUND) return offer_store_err(w, rc, e);

  offers_token_t tk;
  if ((rc = offers_token_verify(ring, in->token, in->customer, in->now, &tk, why, e))) return rc;
  const char *tparts[1] = {in->token};
  unsigned char th[32];
  offer_sha256(tparts, 1, th);
  offer_key_init(&tkk, 't');
  for (int i = 0; i < 32; i++) offer_key_u8(&tkk, th[i]);
  rc = store_get(w, STORE_T_OFFER_IDEM, tkk.b, tkk.n, &v, &vn);
  if (rc == 0)
    return refuse(OFFERS_TOKEN_USED, why, e, PERR_CONFLICT, "token",
                  "the token was already redeemed");
  if (rc != PERR_NOT_FOUND) return offer_store_err(w, rc, e);

  offer_t o;
  perr_info_t ge;
  if ((rc = offer_load(w, tk.offer_id, &o, &ge))) {
    if (rc != PERR_NOT_FOUND) {
      if (e) *e = ge;
      return rc;
    }
    return refuse(OFFERS_OFFER_INACTIVE, why, e, PERR_CONFLICT, "token", "no such offer");
  }
  int64_t discount = 0, used_r, used_m, count, new_m;
  offer_arm_t arm;
  if ((rc = check_offer(&o, &tk, in, &discount, why, e))) goto done;
  if ((rc = offer_budget_load(w, o.id, &used_r, &used_m)) ||
      (rc = offer_cap_load(w, &o, in->customer, 'r', in->now, &count)) ||
      (rc = offer_arm_load(w, o.id, tk.arm, &arm))) {
    rc = offer_store_err(w, rc, e);
    goto done;
  }
  if ((o.budget_redemptions && used_r + 1 > o.budget_redemptions) ||
      !ck_add(used_m, discount, &new_m) || (o.budget_money && new_m > o.budget_money)) {
    rc = refuse(OFFERS_BUDGET_EXHAUSTED, why, e, PERR_CONFLICT, "token",
                "the offer's budget is exhausted");
    goto done;
  }
  if (o.cap_redeemed && count + 1 > o.cap_redeemed) {
    rc = refuse(OFFERS_CAP_REACHED, why, e, PERR_CONFLICT, "customer_id",
                "the customer reached the offer's redemption cap");
    goto done;
  }
  snprintf(out->offer_id, sizeof out->offer_id, "%s", o.id);
  snprintf(out->currency, sizeof out->currency, "%s", o.currency);
  out->arm = tk.arm;
  out->discount = discount;
  out->redemptions_left = o.budget_redemptions ? o.budget_redemptions - used_r - 1 : -1;
  out->money_left = o.budget_money ? o.budget_money - new_m : -1;
  arm.s.discount_cost += discount;
  rec_buf_t b;
  encode_answer(&b, fp, out);
  if (b.oom) rc = PERR_INTERNAL;
  if (!rc) rc = offer_budget_store(w, o.id, used_r + 1, new_m);
  if (!rc) rc = offer_cap_store(w, &o, in->customer, 'r', in->now, count + 1);
  if (!rc) rc = offer_arm_store(w, o.id, tk.arm, &arm);
  if (!rc) rc = store_put(w, STORE_T_OFFER_IDEM, tkk.b, tkk.n, ik.b, ik.n);
  if (!rc) rc = store_put(w, STORE_T_OFFER_IDEM, ik.b, ik.n, b.p, b.n);
  rec_buf_free(&b);
  if (rc) {
    memset(out, 0, sizeof *out);
    rc = offer_store_err(w, rc, e);
  }
done:
  offers_clear(&o);
  return rc;
}
