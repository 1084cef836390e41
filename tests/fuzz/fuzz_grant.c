/*
 * fuzz_grant: dbk_grant_parse, dbk_grant_verify (what the server checks of every
 * grant it stores, with the owner's identity key) and dbk_grant_open (what the
 * grantee's client does), with the keys of proto/vectors/grant.json.
 *
 * Each input is tried two ways:
 *  1. as is. Parse and verify must give exactly what proto/CRYPTO.md section 5
 *     prescribes for the structure (computed here from the layout); verify and open
 *     may succeed only for a grant the owner really signed (one listed in
 *     grant.json: Ed25519 signatures are strongly unforgeable).
 *  2. re-sealed: if it parses, the owner field is set to the vector's owner, the
 *     sealed box's bytes after its 48-byte overhead are taken as the plaintext
 *     (stream key || consent JSON) and sealed again to the vector grantee's key, and
 *     the grant is signed again with the owner's key. This reaches the checks after
 *     the signature: grantee, decryption, the consent document and expiry, whose
 *     outcome is predicted here and must match; a reader with another key pair
 *     must get decrypt_failed.
 */
#include "fuzz.h"

#include "dbk/bytes.h"
#include "dbk/error.h"
#include "dbk/grant.h"

#include <string.h>

static unsigned char owner_sk[crypto_sign_SECRETKEYBYTES], owner_pk[32];
static unsigned char box_pk[32], box_sk[32], other_pk[32], other_sk[32];
static dbk_id owner, grantee;
static uint64_t now_ms;
static fuzz_known signed_grants;

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
    json_t *v, *c;
    unsigned char seed[32], pk[32];

    (void)argc;
    (void)argv;
    fuzz_init();
    v = fuzz_vectors("grant.json");
    c = json_array_get(json_object_get(v, "positive"), 0);
    fuzz_vec_fixed(c, "owner_seed", seed, 32);
    fuzz_vec_fixed(c, "owner_pk", owner_pk, 32);
    fuzz_vec_fixed(c, "owner_id", owner.b, 16);
    fuzz_vec_fixed(c, "grantee_id", grantee.b, 16);
    fuzz_vec_fixed(c, "grantee_x25519_pk", box_pk, 32);
    fuzz_vec_fixed(c, "grantee_x25519_sk", box_sk, 32);
    now_ms = fuzz_vec_u64(c, "now");
    crypto_sign_seed_keypair(pk, owner_sk, seed);
    FUZZ_CHECK(memcmp(pk, owner_pk, 32) == 0);
    /* Another reader's key pair, fixed so runs are reproducible. */
    memset(seed, 0x42, sizeof seed);
    crypto_box_seed_keypair(other_pk, other_sk, seed);
    fuzz_known_load(&signed_grants, v, "grant");
    json_decref(v);
    return 0;
}

/* CRYPTO.md section 5, from the table. */
static int
expected_parse(const uint8_t *g, size_t len)
{
    const size_t overhead = 76 + 64, sealed_min = 48 + 32 + 2, sealed_max = 48 + 32 + 16384;
    if (len < overhead + sealed_min || len > overhead + sealed_max)
        return DBK_E_BAD_GRANT;
    uint64_t n = dbk_get_u32(g + 72);
    if (n < sealed_min || n > sealed_max || len != overhead + n)
        return DBK_E_BAD_GRANT;
    if (g[0] != 1)
        return DBK_E_VERSION; /* after the length: proto/README.md rule R1 */
    if (g[1] != 0 || g[2] != 0 || g[3] != 0)
        return DBK_E_BAD_GRANT;
    return DBK_OK;
}

static void
check_hdr(const dbk_grant_hdr *h, const uint8_t *g)
{
    FUZZ_CHECK(memcmp(h->stream.b, g + 4, 16) == 0);
    FUZZ_CHECK(h->epoch == dbk_get_u32(g + 20));
    FUZZ_CHECK(memcmp(h->owner.b, g + 24, 16) == 0);
    FUZZ_CHECK(memcmp(h->grantee.b, g + 40, 16) == 0);
    FUZZ_CHECK(h->created_at == dbk_get_u64(g + 56));
    FUZZ_CHECK(h->expires_at == dbk_get_u64(g + 64));
}

static void
try_raw(const uint8_t *data, size_t size)
{
    dbk_grant_hdr h;
    dbk_grant_expect exp = {&owner, owner_pk, &grantee, box_pk, box_sk, now_ms};
    unsigned char key[32];
    char *consent = (char *)1;
    int prc = dbk_grant_parse(data, size, &h);
    int vrc, orc;

    FUZZ_CHECK(prc == expected_parse(data, size));
    if (prc == DBK_OK)
        check_hdr(&h, data);

    vrc = dbk_grant_verify(data, size, owner_pk, &h);
    if (prc != DBK_OK)
        FUZZ_CHECK(vrc == prc);
    else
        FUZZ_CHECK(vrc == DBK_OK || vrc == DBK_E_BAD_SIGNATURE);
    if (vrc == DBK_OK)
        FUZZ_CHECK(fuzz_known_has(&signed_grants, data, size));

    orc = dbk_grant_open(data, size, &exp, &h, key, &consent);
    FUZZ_TRACE("grant: %zu bytes, parse %s, verify %s, open %s\n", size, dbk_err_code(prc),
               dbk_err_code(vrc), dbk_err_code(orc));
    if (prc != DBK_OK)
        FUZZ_CHECK(orc == prc);
    if (orc != DBK_OK) {
        FUZZ_CHECK(consent == NULL);
        return;
    }
    FUZZ_CHECK(vrc == DBK_OK);
    FUZZ_CHECK(strlen(consent) == size - 140 - 48 - 32);
    free(consent);
}

/* The consent rule of CRYPTO.md section 5: a JSON object whose "type" is "consent". */
static int
consent_ok(const unsigned char *c, size_t n)
{
    json_t *j = json_loadb((const char *)c, n, JSON_REJECT_DUPLICATES, NULL);
    json_t *t = json_object_get(j, "type");
    int ok = json_is_object(j) && json_is_string(t) && strcmp(json_string_value(t), "consent") == 0;
    json_decref(j);
    return ok;
}

static void
try_resealed(const uint8_t *data, size_t size)
{
    unsigned char *g = malloc(size), *inner, *sig_in, key[32];
    size_t n = size - 140, ilen = n - crypto_box_SEALBYTES, clen = ilen - 32, sig_len;
    dbk_grant_hdr h;
    char *consent = NULL;
    int rc, want;

    FUZZ_CHECK(g != NULL);
    memcpy(g, data, size);
    memcpy(g + 24, owner.b, 16);
    inner = malloc(ilen);
    FUZZ_CHECK(inner != NULL);
    memcpy(inner, g + 76 + crypto_box_SEALBYTES, ilen);
    FUZZ_CHECK(crypto_box_seal(g + 76, inner, ilen, box_pk) == 0);
    sig_in = malloc(DBK_GRANT_SIG_DOMAIN_BYTES + size);
    FUZZ_CHECK(sig_in != NULL);
    sig_len = dbk_grant_signing_input(g, size, sig_in);
    FUZZ_CHECK(sig_len == DBK_GRANT_SIG_DOMAIN_BYTES + size - 64);
    crypto_sign_detached(g + size - 64, NULL, sig_in, sig_len, owner_sk);
    free(sig_in);

    FUZZ_CHECK(dbk_grant_verify(g, size, owner_pk, &h) == DBK_OK);
    check_hdr(&h, g);

    if (!dbk_id_equal(&h.grantee, &grantee))
        want = DBK_E_BAD_GRANT;
    else if (!consent_ok(inner + 32, clen))
        want = DBK_E_BAD_GRANT;
    else if (h.expires_at != 0 && h.expires_at <= now_ms)
        want = DBK_E_EXPIRED;
    else
        want = DBK_OK;
    dbk_grant_expect exp = {&owner, owner_pk, &grantee, box_pk, box_sk, now_ms};
    rc = dbk_grant_open(g, size, &exp, &h, key, &consent);
    FUZZ_TRACE("grant: re-sealed: open %s (expected %s)\n", dbk_err_code(rc), dbk_err_code(want));
    FUZZ_CHECK(rc == want);
    if (rc == DBK_OK) {
        FUZZ_CHECK(memcmp(key, inner, 32) == 0);
        FUZZ_CHECK(memcmp(consent, inner + 32, clen) == 0 && consent[clen] == '\0');
        free(consent);
    } else {
        FUZZ_CHECK(consent == NULL);
    }

    /* Another reader, named as the grantee but holding other keys: cannot decrypt. */
    dbk_grant_expect other = {&owner, owner_pk, &h.grantee, other_pk, other_sk, now_ms};
    FUZZ_CHECK(dbk_grant_open(g, size, &other, &h, key, &consent) == DBK_E_DECRYPT);
    /* Another owner key: the signature fails. */
    dbk_grant_expect forged = {&owner, other_pk, &grantee, box_pk, box_sk, now_ms};
    FUZZ_CHECK(dbk_grant_open(g, size, &forged, &h, key, &consent) == DBK_E_BAD_SIGNATURE);
    FUZZ_CHECK(dbk_grant_verify(g, size, other_pk, &h) == DBK_E_BAD_SIGNATURE);

    sodium_memzero(inner, ilen);
    free(inner);
    free(g);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    dbk_grant_hdr h;

    try_raw(data, size);
    if (dbk_grant_parse(data, size, &h) == DBK_OK)
        try_resealed(data, size);
    return 0;
}
