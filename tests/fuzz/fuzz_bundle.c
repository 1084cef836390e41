/*
 * fuzz_bundle: dbk_bundle_params, the check a server runs on every bundle a client
 * uploads (enroll, PUT /v1/account/bundle) and a client runs before Argon2id.
 *
 * Invariants:
 *  - the result is exactly what proto/CRYPTO.md section 2 prescribes, computed here
 *    independently from the byte layout: corrupt for a bad length, magic, version,
 *    algorithm or reserved field; kdf_too_weak outside the KDF bounds; else OK with
 *    the parameters and generation read big-endian from their offsets.
 *
 * dbk_bundle_open runs Argon2id with at least 64 MiB per call, far too slow to fuzz.
 * It runs only when the parameters pass and are the floor (64 MiB, 2 passes): always
 * in the replay build (a handful of seeds), and under libFuzzer only if
 * DBK_FUZZ_BUNDLE_OPEN is set (use with a short -max_total_time). It must open
 * nothing but a bundle from proto/vectors/bundle.json, to the vector's keys.
 */
#include "fuzz.h"

#include "dbk/bytes.h"
#include "dbk/error.h"
#include "dbk/keys.h"

#include <string.h>

static int open_too;
static dbk_id account;
static char passphrase[256];
static unsigned char want_seed[32], want_box_sk[32];
static fuzz_known bundles;

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
    json_t *v, *c;
    const char *pass;

    (void)argc;
    (void)argv;
    fuzz_init();
#ifdef DBK_FUZZ_REPLAY
    open_too = 1;
#else
    open_too = getenv("DBK_FUZZ_BUNDLE_OPEN") != NULL;
#endif
    v = fuzz_vectors("bundle.json");
    c = json_array_get(json_object_get(v, "positive"), 0);
    fuzz_vec_fixed(c, "account_id", account.b, sizeof account.b);
    fuzz_vec_fixed(c, "ed25519_seed", want_seed, sizeof want_seed);
    fuzz_vec_fixed(c, "x25519_sk", want_box_sk, sizeof want_box_sk);
    pass = json_string_value(json_object_get(c, "passphrase"));
    FUZZ_CHECK(pass != NULL && strlen(pass) < sizeof passphrase);
    strcpy(passphrase, pass);
    fuzz_known_load(&bundles, v, "bundle");
    json_decref(v);
    return 0;
}

/* CRYPTO.md section 2, from the table. */
static int
expected(const uint8_t *b, size_t len)
{
    if (len != 148 || memcmp(b, "DBKB", 4) != 0)
        return DBK_E_CORRUPT;
    if (b[4] != 1)
        return DBK_E_VERSION; /* proto/README.md rule R1 */
    if (b[5] != 2 || b[6] != 0 || b[7] != 0)
        return DBK_E_CORRUPT;
    uint64_t ops = dbk_get_u64(b + 12), mem = dbk_get_u64(b + 20);
    if (ops < 2 || ops > 10 || mem < 64ULL * 1024 * 1024 || mem > 1024ULL * 1024 * 1024)
        return DBK_E_KDF_WEAK;
    return DBK_OK;
}

static void
try_open(const uint8_t *data, size_t size)
{
    dbk_account_keys *keys = NULL;
    dbk_pass_keys *pk = NULL;
    int rc = dbk_bundle_open(data, size, &account, passphrase, strlen(passphrase), &keys, &pk);
    FUZZ_TRACE("bundle: open %s\n", dbk_err_code(rc));

    FUZZ_CHECK(rc == DBK_OK || rc == DBK_E_PASSPHRASE || rc == DBK_E_NOMEM);
    if (rc != DBK_OK) {
        FUZZ_CHECK(keys == NULL && pk == NULL);
        return;
    }
    FUZZ_CHECK(fuzz_known_has(&bundles, data, size));
    FUZZ_CHECK(memcmp(keys->sign_seed, want_seed, 32) == 0);
    FUZZ_CHECK(memcmp(keys->box_sk, want_box_sk, 32) == 0);
    dbk_account_keys_free(keys);
    dbk_pass_keys_free(pk);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    dbk_kdf_params p;
    uint32_t generation = 0xdeadbeef;
    int rc = dbk_bundle_params(data, size, &p, &generation);
    int want = expected(data, size);

    FUZZ_TRACE("bundle: %zu bytes, params %s\n", size, dbk_err_code(rc));
    FUZZ_CHECK(rc == want);
    if (rc == DBK_E_CORRUPT || rc == DBK_E_VERSION)
        return 0;
    FUZZ_CHECK(p.opslimit == dbk_get_u64(data + 12));
    FUZZ_CHECK(p.memlimit == dbk_get_u64(data + 20));
    FUZZ_CHECK(memcmp(p.salt, data + 28, DBK_KDF_SALT_BYTES) == 0);
    FUZZ_CHECK(generation == dbk_get_u32(data + 8));
    FUZZ_CHECK(dbk_kdf_check(p.opslimit, p.memlimit, DBK_KDF_ALG) == rc);
    /* Without the generation pointer it reads the same. */
    FUZZ_CHECK(dbk_bundle_params(data, size, &p, NULL) == rc);

    if (rc == DBK_OK && open_too && p.memlimit == DBK_KDF_MEM_MIN &&
        p.opslimit == DBK_KDF_OPS_MIN)
        try_open(data, size);
    return 0;
}
