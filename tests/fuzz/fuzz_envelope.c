/*
 * fuzz_envelope: dbk_envelope_parse (all the server does with an envelope) and
 * dbk_envelope_open (what every reader does), with the keys of the first positive
 * case of proto/vectors/envelope.json.
 *
 * Each input is tried three ways:
 *  1. as is: parse, then open. Neither may crash; open may succeed only for an
 *     envelope the author really sealed (one listed in envelope.json: Ed25519
 *     signatures are strongly unforgeable, so any other byte string must fail);
 *     parse must agree with the layout of proto/CRYPTO.md section 4.
 *  2. re-signed: if it parses, the author field is set to the vector's author and
 *     the envelope is signed again with the vector's author key, then opened with
 *     the stream, record and epoch it names. This reaches the checks after the
 *     signature: open must now fail only in decryption (or succeed for an envelope
 *     that was genuinely sealed under the stream key).
 *  3. re-encrypted: as 2, but the ciphertext's bytes (minus the tag) are taken as
 *     the padded plaintext and encrypted under the stream key first. This reaches
 *     unpadding with arbitrary plaintext: open must succeed exactly when the
 *     padding is valid ISO/IEC 7816-4 in the last 256-byte block (checked here
 *     independently) and return the plaintext before it, NUL-terminated.
 */
#include "fuzz.h"

#include "dbk/bytes.h"
#include "dbk/envelope.h"
#include "dbk/error.h"

#include <string.h>

static unsigned char author_sk[crypto_sign_SECRETKEYBYTES], author_pk[32], stream_key[32];
static dbk_id author, stream;
static uint32_t epoch;
static fuzz_known sealed;

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
    json_t *v, *c;
    unsigned char seed[32], pk[32];

    (void)argc;
    (void)argv;
    fuzz_init();
    v = fuzz_vectors("envelope.json");
    c = json_array_get(json_object_get(v, "positive"), 0);
    fuzz_vec_fixed(c, "author_seed", seed, 32);
    fuzz_vec_fixed(c, "author_pk", author_pk, 32);
    fuzz_vec_fixed(c, "author_id", author.b, 16);
    fuzz_vec_fixed(c, "stream_id", stream.b, 16);
    fuzz_vec_fixed(c, "stream_key", stream_key, 32);
    epoch = (uint32_t)fuzz_vec_u64(c, "epoch");
    crypto_sign_seed_keypair(pk, author_sk, seed);
    FUZZ_CHECK(memcmp(pk, author_pk, 32) == 0);
    fuzz_known_load(&sealed, v, "envelope");
    json_decref(v);
    return 0;
}

/* CRYPTO.md section 4, from the table: the result parse must give. */
static int
expected_parse(const uint8_t *e, size_t len)
{
    if (len < DBK_ENV_MIN_BYTES)
        return DBK_E_BAD_ENVELOPE;
    if (e[0] != 1)
        return DBK_E_VERSION;
    if (e[1] != 0 || e[2] != 0 || e[3] != 0)
        return DBK_E_BAD_ENVELOPE;
    uint64_t n = dbk_get_u32(e + 104);
    if (n < 256 + 16 || n > 256 * 2048 + 16 || (n - 16) % 256 != 0 || len != 108 + n + 64)
        return DBK_E_BAD_ENVELOPE;
    return DBK_OK;
}

static void
sign(unsigned char *e, size_t len)
{
    unsigned char *in = malloc(DBK_ENV_SIG_DOMAIN_BYTES + len);
    size_t n;
    FUZZ_CHECK(in != NULL);
    n = dbk_envelope_signing_input(e, len, in);
    FUZZ_CHECK(n == DBK_ENV_SIG_DOMAIN_BYTES + len - 64);
    crypto_sign_detached(e + len - 64, NULL, in, n, author_sk);
    free(in);
}

/* The unpadded length of buf under ISO/IEC 7816-4 padding within the last block, or
 * -1 when the padding is invalid. Written from the definition, not via libsodium. */
static long
ref_unpad(const unsigned char *buf, size_t len)
{
    size_t i = len;
    while (i > len - DBK_PAD_BLOCK && buf[i - 1] == 0)
        i--;
    if (i == len - DBK_PAD_BLOCK || buf[i - 1] != 0x80)
        return -1;
    return (long)(i - 1);
}

static void
try_raw(const uint8_t *data, size_t size)
{
    dbk_envelope_hdr h;
    dbk_envelope_expect exp = {&stream, NULL, epoch, &author, author_pk};
    unsigned char *plain = NULL;
    size_t plen = 0;
    int prc = dbk_envelope_parse(data, size, &h);
    int rc;

    FUZZ_CHECK(prc == expected_parse(data, size));
    if (prc == DBK_OK) {
        FUZZ_CHECK(memcmp(h.stream.b, data + 4, 16) == 0);
        FUZZ_CHECK(memcmp(h.record.b, data + 20, 16) == 0);
        FUZZ_CHECK(h.rev.clock == dbk_get_u64(data + 36));
        FUZZ_CHECK(memcmp(h.rev.device.b, data + 44, 16) == 0);
        FUZZ_CHECK(h.epoch == dbk_get_u32(data + 60));
        FUZZ_CHECK(memcmp(h.author.b, data + 64, 16) == 0);
    }
    rc = dbk_envelope_open(data, size, &exp, stream_key, &plain, &plen);
    FUZZ_TRACE("envelope: %zu bytes, parse %s, open %s\n", size, dbk_err_code(prc),
               dbk_err_code(rc));
    if (prc != DBK_OK)
        FUZZ_CHECK(rc == prc);
    if (rc != DBK_OK) {
        FUZZ_CHECK(plain == NULL && plen == 0);
        return;
    }
    FUZZ_CHECK(fuzz_known_has(&sealed, data, size));
    FUZZ_CHECK(plain[plen] == '\0');
    dbk_plaintext_free(plain, plen);
}

static void
try_resealed(const uint8_t *data, size_t size, int reencrypt)
{
    unsigned char *e = malloc(size), ad[DBK_ENV_AD_BYTES];
    unsigned char *plain = NULL;
    size_t plen = 0, ct_len = size - DBK_ENV_OVERHEAD, padded_len = ct_len - 16;
    unsigned char *padded = NULL;
    dbk_envelope_hdr h;
    int rc;

    FUZZ_CHECK(e != NULL);
    memcpy(e, data, size);
    memcpy(e + 64, author.b, 16);
    FUZZ_CHECK(dbk_envelope_parse(e, size, &h) == DBK_OK);
    if (reencrypt) {
        padded = malloc(padded_len);
        FUZZ_CHECK(padded != NULL);
        memcpy(padded, e + 108, padded_len);
        dbk_envelope_ad(e, ad);
        crypto_aead_xchacha20poly1305_ietf_encrypt(e + 108, NULL, padded, padded_len, ad,
                                                   sizeof ad, NULL, e + 80, stream_key);
    }
    sign(e, size);

    dbk_envelope_expect exp = {&h.stream, &h.record, h.epoch, &author, author_pk};
    const unsigned char *key = stream_key;
    rc = dbk_envelope_open(e, size, &exp, key, &plain, &plen);
    FUZZ_TRACE("envelope: %s: open %s\n", reencrypt ? "re-encrypted" : "re-signed",
               dbk_err_code(rc));
    if (!reencrypt) {
        /* Past the signature and the place checks, only decryption can fail. */
        FUZZ_CHECK(rc == DBK_OK || rc == DBK_E_DECRYPT || rc == DBK_E_BAD_PADDING);
    } else {
        long want = ref_unpad(padded, padded_len);
        FUZZ_CHECK(rc == (want < 0 ? DBK_E_BAD_PADDING : DBK_OK));
        if (rc == DBK_OK) {
            FUZZ_CHECK(plen == (size_t)want);
            FUZZ_CHECK(memcmp(plain, padded, plen) == 0);
        }
    }
    if (rc == DBK_OK) {
        FUZZ_CHECK(plain[plen] == '\0');
        FUZZ_CHECK(plen < padded_len);
    } else {
        FUZZ_CHECK(plain == NULL && plen == 0);
    }
    dbk_plaintext_free(plain, plen);
    /* The same envelope, expected elsewhere: refused before decryption. */
    dbk_id other = h.record;
    other.b[0] ^= 1;
    exp.record = &other;
    FUZZ_CHECK(dbk_envelope_open(e, size, &exp, key, &plain, &plen) == DBK_E_BAD_ENVELOPE);
    exp.record = &h.record;
    exp.epoch = h.epoch + 1;
    FUZZ_CHECK(dbk_envelope_open(e, size, &exp, key, &plain, &plen) == DBK_E_BAD_ENVELOPE);
    /* One flipped bit in the ciphertext: the signature no longer holds. */
    e[size / 2] ^= 0x10;
    exp.epoch = h.epoch;
    FUZZ_CHECK(dbk_envelope_open(e, size, &exp, key, &plain, &plen) == DBK_E_BAD_SIGNATURE);
    free(padded);
    free(e);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    dbk_envelope_hdr h;

    try_raw(data, size);
    if (dbk_envelope_parse(data, size, &h) == DBK_OK) {
        try_resealed(data, size, 0);
        try_resealed(data, size, 1);
    }
    return 0;
}
