/*
 * dbk_vectool: writes proto/vectors/ from fixed inputs, and lets another
 * implementation exchange envelopes and grants with ours (tests/interop).
 *
 *   dbk_vectool gen DIR               write one JSON file per area into DIR
 *   dbk_vectool seal-envelope FILE    JSON in, envelope hex out
 *   dbk_vectool open-envelope FILE    JSON in, plaintext out (or the error code, exit 1)
 *   dbk_vectool seal-grant FILE       JSON in, grant hex out
 *   dbk_vectool open-grant FILE       JSON in, {"stream_key","consent"} out (or error, exit 1)
 *
 * Every fixed input is BLAKE2b of a label, and "gen" replaces libsodium's random
 * source with a deterministic one, so the vectors are byte-for-byte reproducible
 * (ctest vectors.reproducible regenerates them and diffs) and the labels say what
 * each value is. Regenerate after a deliberate format change only:
 * `build/tests/dbk_vectool gen proto/vectors`.
 */
#include "vec.h"

#include "dbk/envelope.h"
#include "dbk/error.h"
#include "dbk/fingerprint.h"
#include "dbk/grant.h"
#include "dbk/hlc.h"
#include "dbk/init.h"
#include "dbk/keys.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- fixed inputs ---- */

/*
 * n bytes named by label: BLAKE2b-512(label), then for longer outputs
 * BLAKE2b-512(label || "/1"), BLAKE2b-512(label || "/2")... (padding.json needs up
 * to 300 bytes). Copying more than one hash from a 64-byte buffer once put stack
 * memory (pointers) into the vectors.
 */
static void
fixed(unsigned char *out, size_t n, const char *label)
{
    unsigned char h[64];
    char ext[256];
    for (size_t done = 0, k = 0; done < n; done += sizeof h, k++) {
        const char *in = label;
        size_t take = n - done < sizeof h ? n - done : sizeof h;
        if (k > 0) {
            snprintf(ext, sizeof ext, "%s/%zu", label, k);
            in = ext;
        }
        crypto_generichash(h, sizeof h, (const unsigned char *)in, strlen(in), NULL, 0);
        memcpy(out + done, h, take);
    }
    sodium_memzero(h, sizeof h);
}

/*
 * While writing vectors, libsodium's random source is a counter-keyed ChaCha20
 * stream, so the one randomised operation the vectors use (the ephemeral key of
 * crypto_box_seal in grant.json) gives the same bytes on every run and machine.
 * Installed before sodium_init, and only by "gen".
 */
static uint64_t det_calls;

static void
det_buf(void *const buf, const size_t size)
{
    unsigned char seed[randombytes_SEEDBYTES];
    char label[64];
    snprintf(label, sizeof label, "daybook-vector/randombytes/%llu",
             (unsigned long long)det_calls++);
    crypto_generichash(seed, sizeof seed, (const unsigned char *)label, strlen(label), NULL, 0);
    randombytes_buf_deterministic(buf, size, seed);
}

static uint32_t
det_random(void)
{
    uint32_t r;
    det_buf(&r, sizeof r);
    return r;
}

static const char *
det_name(void)
{
    return "daybook-vector-deterministic";
}

static randombytes_implementation det_impl = {
    .implementation_name = det_name, .random = det_random, .buf = det_buf};

static dbk_id
fixed_id(const char *label)
{
    dbk_id id;
    fixed(id.b, sizeof id.b, label);
    return id;
}

/* A deterministic account: keys from labelled secrets. */
static dbk_account_keys *
fixed_account(const char *name)
{
    unsigned char sign_seed[32], box_sk[32];
    char label[128];
    snprintf(label, sizeof label, "daybook-vector/%s/ed25519-seed", name);
    fixed(sign_seed, 32, label);
    snprintf(label, sizeof label, "daybook-vector/%s/x25519-sk", name);
    fixed(box_sk, 32, label);
    return dbk_account_keys_from_secrets(sign_seed, box_sk);
}

static void
check(int rc, const char *what)
{
    if (rc != DBK_OK) {
        fprintf(stderr, "dbk_vectool: %s: %s\n", what, dbk_err_code(rc));
        exit(1);
    }
}

static void
set(json_t *o, const char *k, json_t *v)
{
    json_object_set_new(o, k, v);
}

static void
write_file(const char *dir, const char *name, json_t *j)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    if (json_dump_file(j, path, JSON_INDENT(2) | JSON_ENSURE_ASCII) != 0) {
        fprintf(stderr, "dbk_vectool: cannot write %s\n", path);
        exit(1);
    }
    json_decref(j);
}

static json_t *
vector_file(const char *description)
{
    return json_pack("{s:s, s:[], s:[]}", "description", description, "positive", "negative");
}

static void
add_negative(json_t *file, json_t *c, const char *name, int err)
{
    set(c, "name", json_string(name));
    set(c, "error", json_string(dbk_err_code(err)));
    json_array_append_new(json_object_get(file, "negative"), c);
}

/* ---- kdf.json ---- */

static void
gen_kdf(const char *dir)
{
    static const struct {
        const char *name, *pass;
        uint64_t ops, mem;
    } cases[] = {
        {"ascii passphrase at the floor", "correct horse battery staple", 2, 64ULL << 20},
        {"UTF-8 passphrase, more passes", "p\xc3\xa4sswort \xe2\x9c\x93 2026", 3, 64ULL << 20},
    };
    static const struct {
        const char *name;
        uint64_t ops, mem;
        int alg;
    } weak[] = {
        {"opslimit below the floor", 1, 64ULL << 20, 2},
        {"memlimit below the floor", 3, 32ULL << 20, 2},
        {"opslimit above the ceiling", 11, 64ULL << 20, 2},
        {"memlimit above the ceiling", 3, 2048ULL << 20, 2},
        {"Argon2i instead of Argon2id", 3, 64ULL << 20, 1},
    };
    json_t *f = vector_file("Passphrase key derivation, CRYPTO.md section 1.");

    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        dbk_kdf_params p = {.opslimit = cases[i].ops, .memlimit = cases[i].mem};
        dbk_pass_keys *k;
        char label[64];
        snprintf(label, sizeof label, "daybook-vector/kdf/%zu/salt", i);
        fixed(p.salt, sizeof p.salt, label);
        check(dbk_pass_keys_derive(cases[i].pass, strlen(cases[i].pass), &p, &k), "derive");
        json_array_append_new(
            json_object_get(f, "positive"),
            json_pack("{s:s, s:s, s:o, s:I, s:I, s:o, s:o, s:o, s:o}", "name", cases[i].name,
                      "passphrase", cases[i].pass, "salt", dbk_jhex(p.salt, sizeof p.salt),
                      "opslimit", (json_int_t)p.opslimit, "memlimit", (json_int_t)p.memlimit,
                      "master", dbk_jhex(k->master, 32), "login_seed",
                      dbk_jhex(k->login_seed, 32), "login_pk", dbk_jhex(k->login_pk, 32),
                      "bundle_key", dbk_jhex(k->bundle_key, 32)));
        dbk_pass_keys_free(k);
    }
    for (size_t i = 0; i < sizeof weak / sizeof weak[0]; i++) {
        check(dbk_kdf_check(weak[i].ops, weak[i].mem, weak[i].alg) == DBK_E_KDF_WEAK
                  ? DBK_OK
                  : DBK_E_INTERNAL,
              "weak kdf accepted");
        add_negative(f,
                     json_pack("{s:I, s:I, s:i}", "opslimit", (json_int_t)weak[i].ops,
                               "memlimit", (json_int_t)weak[i].mem, "alg", weak[i].alg),
                     weak[i].name, DBK_E_KDF_WEAK);
    }
    write_file(dir, "kdf.json", f);
}

/* ---- bundle.json ---- */

static void
gen_bundle(const char *dir)
{
    const char *pass = "correct horse battery staple";
    dbk_id account = fixed_id("daybook-vector/account-a/id");
    dbk_id other = fixed_id("daybook-vector/account-b/id");
    dbk_account_keys *keys = fixed_account("account-a");
    dbk_kdf_params p = {.opslimit = 2, .memlimit = 64ULL << 20};
    dbk_pass_keys *pk;
    unsigned char nonce[24], bundle[DBK_BUNDLE_BYTES], bad[DBK_BUNDLE_BYTES];
    json_t *f = vector_file("Key bundle seal and open, CRYPTO.md section 2.");

    fixed(p.salt, sizeof p.salt, "daybook-vector/bundle/salt");
    fixed(nonce, sizeof nonce, "daybook-vector/bundle/nonce");
    check(dbk_pass_keys_derive(pass, strlen(pass), &p, &pk), "derive");
    check(dbk_bundle_seal(bundle, &account, keys, pk, &p, 1, nonce), "seal");
    json_array_append_new(
        json_object_get(f, "positive"),
        json_pack("{s:s, s:o, s:s, s:o, s:I, s:I, s:i, s:o, s:o, s:o, s:o, s:o, s:o}", "name",
                  "first passphrase, generation 1", "account_id", dbk_jhex(account.b, 16),
                  "passphrase", pass, "salt", dbk_jhex(p.salt, 16), "opslimit",
                  (json_int_t)p.opslimit, "memlimit", (json_int_t)p.memlimit, "generation", 1,
                  "nonce", dbk_jhex(nonce, 24), "ed25519_seed", dbk_jhex(keys->sign_seed, 32),
                  "x25519_sk", dbk_jhex(keys->box_sk, 32), "ed25519_pk",
                  dbk_jhex(keys->sign_pk, 32), "x25519_pk", dbk_jhex(keys->box_pk, 32), "bundle",
                  dbk_jhex(bundle, sizeof bundle)));

#define BUNDLE_NEG(name, acct, pw, buf, len, err)                                                 \
    add_negative(f,                                                                                \
                 json_pack("{s:o, s:s, s:o}", "account_id", dbk_jhex((acct)->b, 16),              \
                           "passphrase", (pw), "bundle", dbk_jhex((buf), (len))),                  \
                 (name), (err))
    BUNDLE_NEG("wrong passphrase", &account, "correct horse battery stapler", bundle,
               sizeof bundle, DBK_E_PASSPHRASE);
    BUNDLE_NEG("moved to another account", &other, pass, bundle, sizeof bundle, DBK_E_PASSPHRASE);
    memcpy(bad, bundle, sizeof bad);
    bad[11] ^= 1; /* generation 1 -> 0 */
    BUNDLE_NEG("generation rewritten", &account, pass, bad, sizeof bad, DBK_E_PASSPHRASE);
    memcpy(bad, bundle, sizeof bad);
    bad[100] ^= 0x80;
    BUNDLE_NEG("ciphertext flipped", &account, pass, bad, sizeof bad, DBK_E_PASSPHRASE);
    memcpy(bad, bundle, sizeof bad);
    bad[19] = 1; /* opslimit 2 -> 1 */
    BUNDLE_NEG("opslimit lowered below the floor", &account, pass, bad, sizeof bad,
               DBK_E_KDF_WEAK);
    memcpy(bad, bundle, sizeof bad);
    bad[0] = 'X';
    BUNDLE_NEG("bad magic", &account, pass, bad, sizeof bad, DBK_E_CORRUPT);
    memcpy(bad, bundle, sizeof bad);
    bad[4] = 2;
    BUNDLE_NEG("unknown version", &account, pass, bad, sizeof bad, DBK_E_VERSION);
    BUNDLE_NEG("truncated", &account, pass, bundle, sizeof bundle - 1, DBK_E_CORRUPT);
#undef BUNDLE_NEG
    dbk_pass_keys_free(pk);
    dbk_account_keys_free(keys);
    write_file(dir, "bundle.json", f);
}

/* ---- login.json ---- */

static void
gen_login(const char *dir)
{
    dbk_kdf_params p = {.opslimit = 2, .memlimit = 64ULL << 20};
    const char *pass = "correct horse battery staple";
    dbk_id server = fixed_id("daybook-vector/server/id");
    dbk_id account = fixed_id("daybook-vector/account-a/id");
    dbk_id device = fixed_id("daybook-vector/account-a/device-1");
    dbk_id other = fixed_id("daybook-vector/other");
    unsigned char challenge[32], other_ch[32], input[DBK_LOGIN_INPUT_BYTES], sig[64], bad[64];
    dbk_pass_keys *pk;
    json_t *f = vector_file("Login challenge signature, CRYPTO.md section 3.");

    fixed(p.salt, 16, "daybook-vector/bundle/salt");
    fixed(challenge, 32, "daybook-vector/login/challenge");
    fixed(other_ch, 32, "daybook-vector/login/other-challenge");
    check(dbk_pass_keys_derive(pass, strlen(pass), &p, &pk), "derive");
    dbk_login_input(input, &server, &account, challenge, &device);
    dbk_login_sign(sig, pk, &server, &account, challenge, &device);
    json_array_append_new(json_object_get(f, "positive"),
                          json_pack("{s:s, s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:o}", "name",
                                    "device 1 answers a challenge", "login_seed",
                                    dbk_jhex(pk->login_seed, 32), "login_pk",
                                    dbk_jhex(pk->login_pk, 32), "server_id",
                                    dbk_jhex(server.b, 16), "account_id",
                                    dbk_jhex(account.b, 16), "challenge", dbk_jhex(challenge, 32),
                                    "device_id", dbk_jhex(device.b, 16), "signing_input",
                                    dbk_jhex(input, sizeof input), "signature",
                                    dbk_jhex(sig, 64)));
#define LOGIN_NEG(name, srv, acct, ch, dev, s)                                                    \
    add_negative(f,                                                                                \
                 json_pack("{s:o, s:o, s:o, s:o, s:o, s:o}", "login_pk", dbk_jhex(pk->login_pk, 32), \
                           "server_id", dbk_jhex((srv)->b, 16), "account_id",                      \
                           dbk_jhex((acct)->b, 16), "challenge", dbk_jhex((ch), 32), "device_id", \
                           dbk_jhex((dev)->b, 16), "signature", dbk_jhex((s), 64)),                \
                 (name), DBK_E_BAD_SIGNATURE)
    LOGIN_NEG("replayed to another server", &other, &account, challenge, &device, sig);
    LOGIN_NEG("claimed for another account", &server, &other, challenge, &device, sig);
    LOGIN_NEG("replayed against a new challenge", &server, &account, other_ch, &device, sig);
    LOGIN_NEG("claimed by another device", &server, &account, challenge, &other, sig);
    memcpy(bad, sig, 64);
    bad[5] ^= 4;
    LOGIN_NEG("signature bit flipped", &server, &account, challenge, &device, bad);
#undef LOGIN_NEG
    dbk_pass_keys_free(pk);
    write_file(dir, "login.json", f);
}

/* ---- padding.json ---- */

static void
gen_padding(const char *dir)
{
    static const size_t lens[] = {0, 1, 255, 256, 300};
    static const char *names[] = {"empty", "one byte", "one short of a block", "a full block",
                                  "into the second block"};
    unsigned char buf[1024];
    json_t *f = vector_file("sodium_pad to 256-byte blocks, CRYPTO.md section 4.");

    for (size_t i = 0; i < sizeof lens / sizeof lens[0]; i++) {
        size_t padded;
        unsigned char pt[300];
        fixed(buf, lens[i], "daybook-vector/padding/plaintext");
        memcpy(pt, buf, lens[i]);
        check(dbk_pad(buf, lens[i], sizeof buf, &padded), "pad");
        json_array_append_new(json_object_get(f, "positive"),
                              json_pack("{s:s, s:o, s:i, s:o}", "name", names[i], "plaintext",
                                        dbk_jhex(pt, lens[i]), "block", DBK_PAD_BLOCK, "padded",
                                        dbk_jhex(buf, padded)));
    }
#define PAD_NEG(name, b, n)                                                                       \
    add_negative(f, json_pack("{s:o, s:i}", "padded", dbk_jhex((b), (n)), "block", DBK_PAD_BLOCK), \
                 (name), DBK_E_BAD_PADDING)
    memset(buf, 0, 256);
    PAD_NEG("all zeros: no 0x80 marker", buf, 256);
    memset(buf, 'A', 256);
    PAD_NEG("no padding at all", buf, 256);
    memset(buf, 'A', 256);
    buf[200] = 0x80;
    buf[255] = 0x01;
    PAD_NEG("non-zero byte after the marker", buf, 256);
    memset(buf, 0, 200);
    buf[0] = 0x80;
    PAD_NEG("not a whole number of blocks", buf, 200);
    PAD_NEG("empty", buf, 0);
#undef PAD_NEG
    write_file(dir, "padding.json", f);
}

/* ---- envelope.json ---- */

struct env_case {
    dbk_account_keys *author;
    dbk_envelope_hdr hdr;
    unsigned char key[32];
    unsigned char nonce[24];
};

static json_t *
env_reader(const struct env_case *c, const unsigned char *env, size_t len, const dbk_id *stream,
           const dbk_id *record, uint32_t epoch, const dbk_id *author,
           const unsigned char *author_pk, const unsigned char *key)
{
    return json_pack("{s:o, s:o, s:o, s:o, s:o, s:i, s:o}", "envelope", dbk_jhex(env, len),
                     "author_pk", dbk_jhex(author_pk ? author_pk : c->author->sign_pk, 32),
                     "author_id", dbk_jhex((author ? author : &c->hdr.author)->b, 16),
                     "stream_id", dbk_jhex((stream ? stream : &c->hdr.stream)->b, 16),
                     "record_id", dbk_jhex((record ? record : &c->hdr.record)->b, 16), "epoch",
                     (int)epoch, "stream_key", dbk_jhex(key ? key : c->key, 32));
}

/* Signs env in place with the case's author (for negatives that must get past step 2). */
static void
resign(const struct env_case *c, unsigned char *env, size_t len)
{
    unsigned char *in = malloc(DBK_ENV_SIG_DOMAIN_BYTES + len);
    size_t n = dbk_envelope_signing_input(env, len, in);
    crypto_sign_detached(env + len - 64, NULL, in, n, c->author->sign_sk);
    free(in);
}

/* Seals case i (name, plaintext, epoch) for account-a into *env and adds it to f's
 * positive cases; c keeps its header, key and nonce for the negatives. */
static void
seal_case(json_t *f, struct env_case *c, size_t i, const char *name, const char *plaintext,
          uint32_t epoch, unsigned char **env, size_t *len)
{
    unsigned char ad[DBK_ENV_AD_BYTES], *sig_in;
    size_t sig_len;
    char label[64];

    c->hdr.stream = fixed_id("daybook-vector/account-a/shared-stream");
    snprintf(label, sizeof label, "daybook-vector/envelope/%zu/record", i);
    c->hdr.record = fixed_id(label);
    c->hdr.rev.clock = dbk_hlc_pack(1763682000000ULL + i * 1000, (uint32_t)i);
    c->hdr.rev.device = fixed_id("daybook-vector/account-a/device-1");
    c->hdr.epoch = epoch;
    c->hdr.author = fixed_id("daybook-vector/account-a/id");
    snprintf(label, sizeof label, "daybook-vector/stream-key/epoch-%u", epoch);
    fixed(c->key, 32, label);
    snprintf(label, sizeof label, "daybook-vector/envelope/%zu/nonce", i);
    fixed(c->nonce, 24, label);
    free(*env);
    check(dbk_envelope_seal(&c->hdr, c->key, c->author->sign_sk,
                            (const unsigned char *)plaintext,
                            strlen(plaintext), c->nonce, env, len),
          "seal");
    dbk_envelope_ad(*env, ad);
    sig_in = malloc(DBK_ENV_SIG_DOMAIN_BYTES + *len);
    sig_len = dbk_envelope_signing_input(*env, *len, sig_in);
    json_array_append_new(
        json_object_get(f, "positive"),
        json_pack("{s:s, s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:i, s:o, s:o, s:s, s:o, s:o, "
                  "s:o}",
                  "name", name, "author_seed", dbk_jhex(c->author->sign_seed, 32),
                  "author_pk", dbk_jhex(c->author->sign_pk, 32), "author_id",
                  dbk_jhex(c->hdr.author.b, 16), "stream_id", dbk_jhex(c->hdr.stream.b, 16),
                  "record_id", dbk_jhex(c->hdr.record.b, 16), "clock",
                  dbk_ju64(c->hdr.rev.clock), "device_id", dbk_jhex(c->hdr.rev.device.b, 16),
                  "epoch", (int)c->hdr.epoch, "stream_key", dbk_jhex(c->key, 32), "nonce",
                  dbk_jhex(c->nonce, 24), "plaintext", plaintext, "associated_data",
                  dbk_jhex(ad, sizeof ad), "signing_input", dbk_jhex(sig_in, sig_len),
                  "envelope", dbk_jhex(*env, *len)));
    free(sig_in);
}

static void
gen_envelope(const char *dir)
{
    static const struct {
        const char *name, *plaintext;
        uint32_t epoch;
    } cases[] = {
        {"a craving, resisted",
         "{\"type\":\"craving\",\"v\":1,\"occurred_at\":\"2026-11-20T18:40:00-05:00\","
         "\"tz\":\"America/New_York\",\"intensity\":{\"value\":7,\"scale\":\"0-10\"},"
         "\"triggers\":{\"halt\":[\"tired\",\"lonely\"],\"places\":[\"the bar on 5th\"]},"
         "\"coping\":[\"urge_surfing\",\"call_support\"],\"outcome\":{\"result\":\"resisted\"}}",
         1},
        {"a journal entry with non-ASCII text, epoch 3",
         "{\"type\":\"journal\",\"v\":1,\"written_at\":\"2026-11-21T22:05:00+01:00\","
         "\"tz\":\"Europe/Berlin\",\"text\":\"M\xc3\xbc" "de, aber stolz \xe2\x80\x94 day 30.\","
         "\"mood\":3,\"shared\":true}",
         3},
        {"a tombstone", "{\"type\":\"tombstone\",\"v\":1,\"deleted_at\":\"2026-11-22T08:00:00Z\"}",
         1},
    };
    json_t *f = vector_file("Record envelopes, CRYPTO.md section 4. Negative cases give the "
                            "envelope and what the reader expects.");
    struct env_case c;
    unsigned char *env = NULL, *bad;
    size_t len = 0;
    dbk_id other = fixed_id("daybook-vector/other");
    dbk_account_keys *mallory = fixed_account("mallory");

    c.author = fixed_account("account-a");
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        seal_case(f, &c, i, cases[i].name, cases[i].plaintext, cases[i].epoch, &env, &len);
    /* Negatives, all against the last case (epoch 1 tombstone). */
    bad = malloc(len + 1);
#define NEG(name, buf, n, stream, record, epoch, author, pk, key, err)                            \
    add_negative(f, env_reader(&c, (buf), (n), (stream), (record), (epoch), (author), (pk), (key)), \
                 (name), (err))
#define FRESH() memcpy(bad, env, len)
    NEG("truncated by one byte", env, len - 1, NULL, NULL, 1, NULL, NULL, NULL,
        DBK_E_BAD_ENVELOPE);
    FRESH();
    bad[len] = 0;
    NEG("one byte appended", bad, len + 1, NULL, NULL, 1, NULL, NULL, NULL, DBK_E_BAD_ENVELOPE);
    NEG("header only", env, 108, NULL, NULL, 1, NULL, NULL, NULL, DBK_E_BAD_ENVELOPE);
    FRESH();
    bad[0] = 2;
    NEG("format version 2", bad, len, NULL, NULL, 1, NULL, NULL, NULL, DBK_E_VERSION);
    FRESH();
    bad[1] = 1;
    NEG("a reserved flag set", bad, len, NULL, NULL, 1, NULL, NULL, NULL, DBK_E_BAD_ENVELOPE);
    FRESH();
    bad[107] ^= 0x10;
    NEG("ciphertext length disagrees with the envelope", bad, len, NULL, NULL, 1, NULL, NULL,
        NULL, DBK_E_BAD_ENVELOPE);
    FRESH();
    bad[150] ^= 1;
    NEG("ciphertext byte flipped", bad, len, NULL, NULL, 1, NULL, NULL, NULL,
        DBK_E_BAD_SIGNATURE);
    FRESH();
    bad[len - 1] ^= 1;
    NEG("signature byte flipped", bad, len, NULL, NULL, 1, NULL, NULL, NULL, DBK_E_BAD_SIGNATURE);
    FRESH();
    memcpy(bad + 4, other.b, 16);
    NEG("header rewritten to another stream", bad, len, &other, NULL, 1, NULL, NULL, NULL,
        DBK_E_BAD_SIGNATURE);
    NEG("served from another stream", env, len, &other, NULL, 1, NULL, NULL, NULL,
        DBK_E_BAD_ENVELOPE);
    NEG("served as another record", env, len, NULL, &other, 1, NULL, NULL, NULL,
        DBK_E_BAD_ENVELOPE);
    NEG("served under another epoch", env, len, NULL, NULL, 2, NULL, NULL, NULL,
        DBK_E_BAD_ENVELOPE);
    NEG("claimed by another author", env, len, NULL, NULL, 1, &other, mallory->sign_pk, NULL,
        DBK_E_BAD_SIGNATURE);
    NEG("verified with another author's key", env, len, NULL, NULL, 1, NULL, mallory->sign_pk,
        NULL, DBK_E_BAD_SIGNATURE);
    {
        unsigned char wrong[32];
        fixed(wrong, 32, "daybook-vector/stream-key/revoked");
        NEG("the wrong stream key", env, len, NULL, NULL, 1, NULL, NULL, wrong, DBK_E_DECRYPT);
    }
    /* Signed by the author but encrypted under another record's associated data:
     * only the AEAD binding catches it. */
    {
        struct env_case moved = c;
        unsigned char *env2;
        size_t len2;
        moved.hdr.record = other;
        check(dbk_envelope_seal(&moved.hdr, c.key, c.author->sign_sk,
                                (const unsigned char *)"{\"type\":\"tombstone\",\"v\":1}", 26,
                                c.nonce, &env2, &len2),
              "seal");
        memcpy(env2 + 20, c.hdr.record.b, 16);
        resign(&c, env2, len2);
        NEG("ciphertext bound to another record, re-signed", env2, len2, NULL, NULL, 1, NULL,
            NULL, NULL, DBK_E_DECRYPT);
        free(env2);
    }
    /* Signed and encrypted correctly, but the plaintext is not padded. */
    {
        unsigned char pt[256], ad[DBK_ENV_AD_BYTES];
        memset(pt, '{', sizeof pt);
        FRESH();
        dbk_envelope_ad(bad, ad);
        crypto_aead_xchacha20poly1305_ietf_encrypt(bad + 108, NULL, pt, 256, ad, sizeof ad, NULL,
                                                   bad + 80, c.key);
        resign(&c, bad, len);
        NEG("plaintext without padding", bad, len, NULL, NULL, 1, NULL, NULL, NULL,
            DBK_E_BAD_PADDING);
    }
#undef NEG
#undef FRESH
    /* One of each record type the clinical issue added, from its schema's examples,
     * sealed after the negatives so that the cases above keep their bytes. */
    static const struct {
        const char *name, *plaintext;
    } more[] = {
        {"a daily check-in (issue 19)",
         "{\"type\":\"checkin\",\"v\":1,\"date\":\"2026-11-20\",\"recorded_at\":\"2026-11-20T"
         "21:05:00-05:00\",\"tz\":\"America/New_York\",\"mood\":6,\"craving_peak\":3,\"use"
         "\":{\"any\":false},\"medication\":\"taken\",\"sleep_hours\":7,\"risky_situation\""
         ":false}"},
        {"a PHQ-9 (issue 19)",
         "{\"type\":\"measure\",\"v\":1,\"answered_at\":\"2026-11-20T18:40:00-05:00\",\"tz\""
         ":\"America/New_York\",\"instrument\":\"phq9\",\"answers\":{\"1\":1,\"2\":1,\"3\":2,\""
         "4\":1,\"5\":0,\"6\":1,\"7\":0,\"8\":0,\"9\":0,\"difficulty\":1},\"score\":{\"total\":6,"
         "\"band\":\"mild\",\"self_harm\":false}}"},
        {"a safety plan (issue 19)",
         "{\"type\":\"plan\",\"v\":1,\"updated_at\":\"2026-11-20T18:40:00-05:00\",\"tz\":\"Am"
         "erica/New_York\",\"kind\":\"safety\",\"sections\":{\"warning_signs\":[\"Not slee"
         "ping\",\"Pulling away from people\"],\"professionals\":[\"988 Suicide & Cris"
         "is Lifeline\"]}}"},
        {"a medication schedule (issue 19)",
         "{\"type\":\"medication\",\"v\":1,\"name\":\"buprenorphine\",\"dose\":\"8 mg\",\"frequ"
         "ency\":\"daily\",\"supervision\":\"take_home\",\"active\":true,\"start_date\":\"20"
         "26-11-01\",\"set_by\":\"counselor\"}"},
        {"a dose taken (issue 19)",
         "{\"type\":\"dose\",\"v\":1,\"medication\":\"buprenorphine\",\"date\":\"2026-11-20\","
         "\"status\":\"taken\",\"recorded_at\":\"2026-11-20T08:05:00-05:00\",\"tz\":\"Ameri"
         "ca/New_York\"}"},
        {"a measure schedule (issue 19)",
         "{\"type\":\"measure_schedule\",\"v\":1,\"instrument\":\"phq9\",\"every_days\":7,\"a"
         "ctive\":true,\"start_date\":\"2026-12-07\",\"set_by\":\"counselor\"}"},
        {"a group session attended (issue 19)",
         "{\"type\":\"attendance\",\"v\":1,\"date\":\"2026-12-03\",\"kind\":\"group\",\"topic\":"
         "\"Relapse prevention: high-risk situations\"}"},
        {"a referral to another counselor (issue 19)",
         "{\"type\":\"referral\",\"v\":1,\"link\":\"daybook://team?server=https%3A%2F%2Fc"
         "linic.example.org&counselor=AAAAAAAAAAAAAAAAAAAAAA&fp=AAAAAAAAAAAAAAAA"
         "AAAAAA&by=Dr.%20Rivera\",\"kind\":\"transfer\",\"message\":\"I am leaving the "
         "clinic in January; Dr. Rivera will see you from then.\"}"},
    };
    for (size_t i = 0; i < sizeof more / sizeof more[0]; i++)
        seal_case(f, &c, sizeof cases / sizeof cases[0] + i, more[i].name, more[i].plaintext, 1,
                  &env, &len);
    free(bad);
    free(env);
    dbk_account_keys_free(c.author);
    dbk_account_keys_free(mallory);
    write_file(dir, "envelope.json", f);
}

/* ---- grant.json ---- */

static const char consent_text[] =
    "{\"type\":\"consent\",\"v\":1,"
    "\"patient\":{\"name\":\"J. R.\",\"account_id\":\"bvMpQ4v-xgXKx3s7VcmuZg\"},"
    "\"disclosed_by\":[{\"kind\":\"client\",\"name\":\"J. R.\"}],"
    "\"information\":{\"description\":\"My cravings, shared journal entries and checklist.\","
    "\"record_types\":[\"craving\",\"journal\",\"checklist_day\"]},"
    "\"recipient\":{\"name\":\"Counselor A\",\"account_id\":\"D1i54OPR1pO77mwmZa-9Xg\"},"
    "\"purpose\":\"Review of my between-session records for my treatment in the IOP.\","
    "\"right_to_revoke\":\"I may revoke this consent at any time in Daybook.\","
    "\"expires\":{\"event\":\"my discharge from the program\"},"
    "\"signed_at\":\"2026-11-01T10:00:00-05:00\","
    "\"redisclosure_notice\":\"42 CFR part 2 prohibits unauthorized use or disclosure of these "
    "records.\"}";

static void
gen_grant(const char *dir)
{
    dbk_account_keys *owner = fixed_account("account-a");
    dbk_account_keys *grantee = fixed_account("counselor-a");
    dbk_account_keys *mallory = fixed_account("mallory");
    dbk_grant_hdr h;
    unsigned char key[32], *g, *bad, *sig_in;
    size_t len, sig_len;
    dbk_id grantee_id = fixed_id("daybook-vector/counselor-a/id");
    dbk_id mallory_id = fixed_id("daybook-vector/other");
    const uint64_t now = 1764000000000ULL;
    json_t *f = vector_file("Key grants, CRYPTO.md section 5. Sealed boxes are randomised (the "
                            "generator uses a fixed random source, so the given bytes are "
                            "reproducible): verify and open the given grant, and check that a "
                            "fresh seal of yours opens too.");

    h.stream = fixed_id("daybook-vector/account-a/shared-stream");
    h.epoch = 1;
    h.owner = fixed_id("daybook-vector/account-a/id");
    h.grantee = grantee_id;
    h.created_at = 1761955200000ULL;
    h.expires_at = 0;
    fixed(key, 32, "daybook-vector/stream-key/epoch-1");

    for (int i = 0; i < 2; i++) {
        if (i == 1)
            h.expires_at = 1793491200000ULL; /* 2026-11-01 + one year */
        check(dbk_grant_seal(&h, key, consent_text, strlen(consent_text), grantee->box_pk,
                             owner->sign_sk, &g, &len),
              "grant seal");
        sig_in = malloc(DBK_GRANT_SIG_DOMAIN_BYTES + len);
        sig_len = dbk_grant_signing_input(g, len, sig_in);
        json_array_append_new(
            json_object_get(f, "positive"),
            json_pack("{s:s, s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:i, s:o, s:o, s:o, s:s, s:o, "
                      "s:o, s:o}",
                      "name", i == 0 ? "no end date" : "with an end date", "owner_seed",
                      dbk_jhex(owner->sign_seed, 32), "owner_pk", dbk_jhex(owner->sign_pk, 32),
                      "owner_id", dbk_jhex(h.owner.b, 16), "grantee_id",
                      dbk_jhex(grantee_id.b, 16), "grantee_x25519_pk",
                      dbk_jhex(grantee->box_pk, 32), "grantee_x25519_sk",
                      dbk_jhex(grantee->box_sk, 32), "stream_id", dbk_jhex(h.stream.b, 16),
                      "epoch", (int)h.epoch, "created_at", dbk_ju64(h.created_at), "expires_at",
                      dbk_ju64(h.expires_at), "stream_key", dbk_jhex(key, 32), "consent",
                      consent_text, "now", dbk_ju64(now), "grant", dbk_jhex(g, len),
                      "signing_input", dbk_jhex(sig_in, sig_len)));
        free(sig_in);
        if (i == 0)
            free(g);
    }
    /* Negatives against the grant with an end date (still in g). */
    bad = malloc(len + 1);
#define NEG(name, buf, n, owner_pk, owner_id, gid, gk, at, err)                                   \
    add_negative(f,                                                                                \
                 json_pack("{s:o, s:o, s:o, s:o, s:o, s:o, s:o}", "grant", dbk_jhex((buf), (n)),  \
                           "owner_pk", dbk_jhex((owner_pk), 32), "owner_id",                       \
                           dbk_jhex((owner_id)->b, 16), "grantee_id", dbk_jhex((gid)->b, 16),      \
                           "grantee_x25519_pk", dbk_jhex((gk)->box_pk, 32), "grantee_x25519_sk",   \
                           dbk_jhex((gk)->box_sk, 32), "now", dbk_ju64(at)),                       \
                 (name), (err))
    NEG("truncated", g, len - 1, owner->sign_pk, &h.owner, &grantee_id, grantee, now,
        DBK_E_BAD_GRANT);
    memcpy(bad, g, len);
    bad[0] = 2;
    NEG("format version 2", bad, len, owner->sign_pk, &h.owner, &grantee_id, grantee, now,
        DBK_E_VERSION);
    memcpy(bad, g, len);
    bad[23] ^= 1;
    NEG("epoch rewritten", bad, len, owner->sign_pk, &h.owner, &grantee_id, grantee, now,
        DBK_E_BAD_SIGNATURE);
    memcpy(bad, g, len);
    bad[71] ^= 1;
    NEG("end date rewritten", bad, len, owner->sign_pk, &h.owner, &grantee_id, grantee, now,
        DBK_E_BAD_SIGNATURE);
    NEG("signed by someone else than the expected owner", g, len, mallory->sign_pk, &mallory_id,
        &grantee_id, grantee, now, DBK_E_BAD_SIGNATURE);
    NEG("read by another account", g, len, owner->sign_pk, &h.owner, &mallory_id, mallory, now,
        DBK_E_BAD_GRANT);
    NEG("opened with the wrong keys", g, len, owner->sign_pk, &h.owner, &grantee_id, mallory, now,
        DBK_E_DECRYPT);
    NEG("past its end date", g, len, owner->sign_pk, &h.owner, &grantee_id, grantee,
        h.expires_at + 1, DBK_E_EXPIRED);
    free(g);
    {
        const char *not_consent = "{\"type\":\"journal\",\"v\":1}";
        check(dbk_grant_seal(&h, key, not_consent, strlen(not_consent), grantee->box_pk,
                             owner->sign_sk, &g, &len),
              "grant seal");
        NEG("sealed document is not a consent", g, len, owner->sign_pk, &h.owner, &grantee_id,
            grantee, now, DBK_E_BAD_GRANT);
        free(g);
    }
#undef NEG
    free(bad);
    dbk_account_keys_free(owner);
    dbk_account_keys_free(grantee);
    dbk_account_keys_free(mallory);
    write_file(dir, "grant.json", f);
}

/* ---- fingerprint.json ---- */

static void
gen_fingerprint(const char *dir)
{
    static const char *names[] = {"account-a", "counselor-a"};
    json_t *f = vector_file("Fingerprints, short forms and safety numbers, CRYPTO.md section 7.");
    char digits[2][DBK_SAFETY_DIGITS + 1], shorts[2][DBK_FP_SHORT_LEN + 1];
    char sn[DBK_SAFETY_NUMBER_LEN + 1];
    dbk_id ids[2];
    dbk_account_keys *keys[2];

    for (int i = 0; i < 2; i++) {
        unsigned char fp[DBK_FP_BYTES];
        char label[64];
        snprintf(label, sizeof label, "daybook-vector/%s/id", names[i]);
        ids[i] = fixed_id(label);
        keys[i] = fixed_account(names[i]);
        dbk_fingerprint(fp, &ids[i], keys[i]->sign_pk, keys[i]->box_pk);
        dbk_fingerprint_short(shorts[i], &ids[i], keys[i]->sign_pk, keys[i]->box_pk);
        dbk_safety_digits(digits[i], &ids[i], keys[i]->sign_pk, keys[i]->box_pk);
        json_array_append_new(json_object_get(f, "positive"),
                              json_pack("{s:s, s:o, s:o, s:o, s:o, s:s, s:s}", "name", names[i],
                                        "account_id", dbk_jhex(ids[i].b, 16), "ed25519_pk",
                                        dbk_jhex(keys[i]->sign_pk, 32), "x25519_pk",
                                        dbk_jhex(keys[i]->box_pk, 32), "fingerprint",
                                        dbk_jhex(fp, 32), "short", shorts[i], "digits",
                                        digits[i]));
    }
    dbk_safety_number(sn, digits[0], digits[1]);
    set(f, "pairs", json_pack("[{s:i, s:i, s:s}]", "a", 0, "b", 1, "safety_number", sn));
    add_negative(f,
                 json_pack("{s:o, s:o, s:o, s:s}", "account_id", dbk_jhex(ids[0].b, 16),
                           "ed25519_pk", dbk_jhex(keys[1]->sign_pk, 32), "x25519_pk",
                           dbk_jhex(keys[1]->box_pk, 32), "short", shorts[0]),
                 "a server substituted another account's keys", DBK_E_FINGERPRINT);
    add_negative(f,
                 json_pack("{s:o, s:o, s:o, s:s}", "account_id", dbk_jhex(ids[0].b, 16),
                           "ed25519_pk", dbk_jhex(keys[0]->sign_pk, 32), "x25519_pk",
                           dbk_jhex(keys[0]->box_pk, 32), "short", "not-a-fingerprint"),
                 "malformed short form", DBK_E_FINGERPRINT);
    for (int i = 0; i < 2; i++)
        dbk_account_keys_free(keys[i]);
    write_file(dir, "fingerprint.json", f);
}

/* ---- hlc.json ---- */

static json_t *
hlc_step(dbk_hlc *h, const char *op, uint64_t wall, uint64_t remote)
{
    if (strcmp(op, "local") == 0) {
        uint64_t c = dbk_hlc_local(h, wall);
        return json_pack("{s:s, s:o, s:o}", "op", op, "wall_ms", dbk_ju64(wall), "expect",
                         dbk_ju64(c));
    }
    check(dbk_hlc_recv(h, wall, remote), "hlc recv");
    return json_pack("{s:s, s:o, s:o, s:o}", "op", op, "wall_ms", dbk_ju64(wall), "remote",
                     dbk_ju64(remote), "expect", dbk_ju64(h->last));
}

static void
gen_hlc(const char *dir)
{
    const uint64_t t = 1764000000000ULL;
    json_t *f = vector_file("Hybrid logical clock and revision order, CRYPTO.md section 6.");
    json_t *steps;
    dbk_hlc h;
    dbk_id d1 = fixed_id("daybook-vector/account-a/device-1");
    dbk_id d2 = fixed_id("daybook-vector/account-a/device-2");
    dbk_revision a, b;

    h.last = 0;
    steps = json_array();
    json_array_append_new(steps, hlc_step(&h, "local", t, 0));
    json_array_append_new(steps, hlc_step(&h, "local", t, 0));       /* same ms: counter */
    json_array_append_new(steps, hlc_step(&h, "local", t - 5000, 0)); /* clock went back */
    json_array_append_new(steps, hlc_step(&h, "local", t + 10, 0));   /* clock moved on */
    json_array_append_new(json_object_get(f, "positive"),
                          json_pack("{s:s, s:s, s:o}", "name", "local writes", "start", "0",
                                    "steps", steps));
    h.last = dbk_hlc_pack(t, 4);
    steps = json_array();
    json_array_append_new(steps, hlc_step(&h, "recv", t - 100, dbk_hlc_pack(t + 2000, 7)));
    json_array_append_new(steps, hlc_step(&h, "recv", t - 100, dbk_hlc_pack(t + 2000, 9)));
    json_array_append_new(steps, hlc_step(&h, "recv", t + 5000, dbk_hlc_pack(t + 3000, 1)));
    json_array_append_new(steps, hlc_step(&h, "recv", t + 5000, dbk_hlc_pack(t + 1000, 1)));
    json_array_append_new(steps, hlc_step(&h, "local", t + 5000, 0));
    json_array_append_new(json_object_get(f, "positive"),
                          json_pack("{s:s, s:o, s:o}", "name", "merging remote clocks", "start",
                                    dbk_ju64(dbk_hlc_pack(t, 4)), "steps", steps));
    h.last = dbk_hlc_pack(t, 0xffff);
    steps = json_array();
    json_array_append_new(steps, hlc_step(&h, "local", t, 0));
    json_array_append_new(json_object_get(f, "positive"),
                          json_pack("{s:s, s:o, s:o}", "name", "counter overflow carries",
                                    "start", dbk_ju64(dbk_hlc_pack(t, 0xffff)), "steps", steps));
    /* A device whose clock was days ahead, set right: its next write starts from the
     * wall clock (within the bound it would still count on from the last clock). */
    h.last = dbk_hlc_pack(t + 3 * DBK_HLC_MAX_DRIFT_MS, 5);
    steps = json_array();
    json_array_append_new(steps, hlc_step(&h, "local", t, 0));
    json_array_append_new(steps, hlc_step(&h, "local", t, 0));
    json_array_append_new(json_object_get(f, "positive"),
                          json_pack("{s:s, s:o, s:o}", "name",
                                    "a last clock more than a day ahead of the wall clock "
                                    "restarts from the wall clock",
                                    "start", dbk_ju64(dbk_hlc_pack(t + 3 * DBK_HLC_MAX_DRIFT_MS, 5)),
                                    "steps", steps));

    json_t *cmp = json_array();
    a.clock = dbk_hlc_pack(t, 1), a.device = d1;
    b.clock = dbk_hlc_pack(t, 2), b.device = d1;
#define CMP(x, y)                                                                                  \
    json_array_append_new(                                                                         \
        cmp, json_pack("{s:{s:o, s:o}, s:{s:o, s:o}, s:s}", "a", "clock", dbk_ju64((x).clock),   \
                       "device_id", dbk_jhex((x).device.b, 16), "b", "clock",                      \
                       dbk_ju64((y).clock), "device_id", dbk_jhex((y).device.b, 16), "winner",     \
                       dbk_revision_cmp(&(x), &(y)) > 0   ? "a"                                    \
                       : dbk_revision_cmp(&(x), &(y)) < 0 ? "b"                                    \
                                                          : "equal"))
    CMP(a, b);
    b.clock = a.clock, b.device = d2;
    CMP(a, b);
    CMP(b, a);
    CMP(a, a);
    b.clock = dbk_hlc_pack(t + 1, 0), b.device = d1;
    CMP(b, a);
#undef CMP
    set(f, "compare", cmp);
    add_negative(f,
                 json_pack("{s:o, s:o, s:o}", "start", dbk_ju64(dbk_hlc_pack(t, 0)), "wall_ms",
                           dbk_ju64(t), "remote",
                           dbk_ju64(dbk_hlc_pack(t + DBK_HLC_MAX_DRIFT_MS + 1, 0))),
                 "remote clock more than a day ahead", DBK_E_INVALID);
    write_file(dir, "hlc.json", f);
}

/* ---- exchange with another implementation ---- */

static json_t *
load_in(const char *path)
{
    json_error_t e;
    json_t *j = json_load_file(path, 0, &e);
    if (j == NULL) {
        fprintf(stderr, "dbk_vectool: %s: %s\n", path, e.text);
        exit(2);
    }
    return j;
}

static int
fail_with(int rc)
{
    fprintf(stderr, "%s\n", dbk_err_code(rc));
    return 1;
}

static int
cmd_seal_envelope(const char *path)
{
    json_t *in = load_in(path);
    unsigned char seed[32], key[32], nonce[24], *env;
    size_t len;
    dbk_envelope_hdr h;
    const char *pt = dbk_vec_str(in, "plaintext");
    dbk_account_keys *k;
    bool has_nonce = json_object_get(in, "nonce") != NULL;

    dbk_vec_fixed(in, "author_seed", seed, 32);
    dbk_vec_fixed(in, "stream_key", key, 32);
    if (has_nonce)
        dbk_vec_fixed(in, "nonce", nonce, 24);
    dbk_vec_id(in, "author_id", &h.author);
    dbk_vec_id(in, "stream_id", &h.stream);
    dbk_vec_id(in, "record_id", &h.record);
    dbk_vec_id(in, "device_id", &h.rev.device);
    h.rev.clock = dbk_vec_u64(in, "clock");
    h.epoch = (uint32_t)dbk_vec_u64(in, "epoch");
    k = dbk_account_keys_from_secrets(seed, seed); /* only the signing half is used */
    int rc = dbk_envelope_seal(&h, key, k->sign_sk, (const unsigned char *)pt, strlen(pt),
                               has_nonce ? nonce : NULL, &env, &len);
    dbk_account_keys_free(k);
    json_decref(in);
    if (rc != DBK_OK)
        return fail_with(rc);
    char *hex = dbk_hex(env, len);
    puts(hex);
    free(hex);
    free(env);
    return 0;
}

static int
cmd_open_envelope(const char *path)
{
    json_t *in = load_in(path);
    unsigned char pk[32], key[32], *env, *plain;
    size_t len, plen;
    dbk_id stream, record, author;
    dbk_envelope_expect exp = {&stream, &record, 0, &author, pk};

    env = dbk_vec_bytes(in, "envelope", &len);
    dbk_vec_fixed(in, "author_pk", pk, 32);
    dbk_vec_fixed(in, "stream_key", key, 32);
    dbk_vec_id(in, "stream_id", &stream);
    dbk_vec_id(in, "record_id", &record);
    dbk_vec_id(in, "author_id", &author);
    exp.epoch = (uint32_t)dbk_vec_u64(in, "epoch");
    int rc = dbk_envelope_open(env, len, &exp, key, &plain, &plen);
    free(env);
    json_decref(in);
    if (rc != DBK_OK)
        return fail_with(rc);
    fwrite(plain, 1, plen, stdout);
    dbk_plaintext_free(plain, plen);
    return 0;
}

static int
cmd_seal_grant(const char *path)
{
    json_t *in = load_in(path);
    unsigned char seed[32], key[32], gpk[32], *g;
    size_t len;
    dbk_grant_hdr h;
    const char *consent = dbk_vec_str(in, "consent");
    dbk_account_keys *k;

    dbk_vec_fixed(in, "owner_seed", seed, 32);
    dbk_vec_fixed(in, "stream_key", key, 32);
    dbk_vec_fixed(in, "grantee_x25519_pk", gpk, 32);
    dbk_vec_id(in, "owner_id", &h.owner);
    dbk_vec_id(in, "grantee_id", &h.grantee);
    dbk_vec_id(in, "stream_id", &h.stream);
    h.epoch = (uint32_t)dbk_vec_u64(in, "epoch");
    h.created_at = dbk_vec_u64(in, "created_at");
    h.expires_at = dbk_vec_u64(in, "expires_at");
    k = dbk_account_keys_from_secrets(seed, seed);
    int rc = dbk_grant_seal(&h, key, consent, strlen(consent), gpk, k->sign_sk, &g, &len);
    dbk_account_keys_free(k);
    json_decref(in);
    if (rc != DBK_OK)
        return fail_with(rc);
    char *hex = dbk_hex(g, len);
    puts(hex);
    free(hex);
    free(g);
    return 0;
}

static int
cmd_open_grant(const char *path)
{
    json_t *in = load_in(path);
    unsigned char opk[32], bpk[32], bsk[32], key[32], *g;
    size_t len;
    dbk_id owner, grantee;
    dbk_grant_hdr h;
    char *consent;
    dbk_grant_expect exp = {&owner, opk, &grantee, bpk, bsk, 0};

    g = dbk_vec_bytes(in, "grant", &len);
    dbk_vec_fixed(in, "owner_pk", opk, 32);
    dbk_vec_fixed(in, "grantee_x25519_pk", bpk, 32);
    dbk_vec_fixed(in, "grantee_x25519_sk", bsk, 32);
    dbk_vec_id(in, "owner_id", &owner);
    dbk_vec_id(in, "grantee_id", &grantee);
    exp.now_ms = dbk_vec_u64(in, "now");
    int rc = dbk_grant_open(g, len, &exp, &h, key, &consent);
    free(g);
    json_decref(in);
    if (rc != DBK_OK)
        return fail_with(rc);
    json_t *out = json_pack("{s:o, s:s}", "stream_key", dbk_jhex(key, 32), "consent", consent);
    char *s = json_dumps(out, JSON_COMPACT);
    puts(s);
    free(s);
    json_decref(out);
    free(consent);
    return 0;
}

int
main(int argc, char **argv)
{
    if (argc == 3 && strcmp(argv[1], "gen") == 0 &&
        randombytes_set_implementation(&det_impl) != 0)
        return 1;
    if (dbk_init() != DBK_OK)
        return 1;
    if (argc == 3 && strcmp(argv[1], "gen") == 0) {
        gen_kdf(argv[2]);
        gen_bundle(argv[2]);
        gen_login(argv[2]);
        gen_padding(argv[2]);
        gen_envelope(argv[2]);
        gen_grant(argv[2]);
        gen_fingerprint(argv[2]);
        gen_hlc(argv[2]);
        return 0;
    }
    if (argc == 3 && strcmp(argv[1], "seal-envelope") == 0)
        return cmd_seal_envelope(argv[2]);
    if (argc == 3 && strcmp(argv[1], "open-envelope") == 0)
        return cmd_open_envelope(argv[2]);
    if (argc == 3 && strcmp(argv[1], "seal-grant") == 0)
        return cmd_seal_grant(argv[2]);
    if (argc == 3 && strcmp(argv[1], "open-grant") == 0)
        return cmd_open_grant(argv[2]);
    fprintf(stderr, "usage: dbk_vectool gen DIR | seal-envelope|open-envelope|seal-grant|"
                    "open-grant FILE\n");
    return 2;
}
