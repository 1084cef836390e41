/* Fingerprints and safety numbers (CRYPTO.md §7). */
#include "dbk/fingerprint.h"

#include "dbk/base64.h"
#include "dbk/error.h"

#include <sodium.h>
#include <stdio.h>
#include <string.h>

static const char DOM_FP[] = "daybook/v1/fingerprint";
static const char DOM_SAFETY[] = "daybook/v1/safety-number";
#define SAFETY_ITERATIONS 5200

void
dbk_fingerprint(unsigned char out[DBK_FP_BYTES], const dbk_id *account,
                const unsigned char sign_pk[32], const unsigned char box_pk[32])
{
    crypto_generichash_state st;
    crypto_generichash_init(&st, NULL, 0, DBK_FP_BYTES);
    crypto_generichash_update(&st, (const unsigned char *)DOM_FP, sizeof DOM_FP);
    crypto_generichash_update(&st, account->b, DBK_ID_BYTES);
    crypto_generichash_update(&st, sign_pk, 32);
    crypto_generichash_update(&st, box_pk, 32);
    crypto_generichash_final(&st, out, DBK_FP_BYTES);
}

void
dbk_fingerprint_short(char out[DBK_FP_SHORT_LEN + 1], const dbk_id *account,
                      const unsigned char sign_pk[32], const unsigned char box_pk[32])
{
    unsigned char fp[DBK_FP_BYTES];
    dbk_fingerprint(fp, account, sign_pk, box_pk);
    (void)dbk_b64_encode(out, DBK_FP_SHORT_LEN + 1, fp, DBK_FP_SHORT_BYTES);
}

int
dbk_fingerprint_check(const char *text, size_t n, const dbk_id *account,
                      const unsigned char sign_pk[32], const unsigned char box_pk[32])
{
    unsigned char fp[DBK_FP_BYTES], given[DBK_FP_SHORT_BYTES];

    if (dbk_b64_decode_exact(given, sizeof given, text, n) != DBK_OK)
        return DBK_E_FINGERPRINT;
    dbk_fingerprint(fp, account, sign_pk, box_pk);
    return sodium_memcmp(fp, given, DBK_FP_SHORT_BYTES) == 0 ? DBK_OK : DBK_E_FINGERPRINT;
}

void
dbk_safety_digits(char out[DBK_SAFETY_DIGITS + 1], const dbk_id *account,
                  const unsigned char sign_pk[32], const unsigned char box_pk[32])
{
    unsigned char d[64], buf[64 + 32];
    crypto_generichash_state st;

    crypto_generichash_init(&st, NULL, 0, sizeof d);
    crypto_generichash_update(&st, (const unsigned char *)DOM_SAFETY, sizeof DOM_SAFETY);
    crypto_generichash_update(&st, account->b, DBK_ID_BYTES);
    crypto_generichash_update(&st, sign_pk, 32);
    crypto_generichash_update(&st, box_pk, 32);
    crypto_generichash_final(&st, d, sizeof d);
    memcpy(buf + 64, sign_pk, 32);
    for (int i = 0; i < SAFETY_ITERATIONS; i++) {
        memcpy(buf, d, 64);
        crypto_generichash(d, sizeof d, buf, sizeof buf, NULL, 0);
    }
    for (int i = 0; i < 6; i++) {
        uint64_t v = 0;
        for (int j = 0; j < 5; j++)
            v = v << 8 | d[5 * i + j];
        snprintf(out + 5 * i, 6, "%05u", (unsigned)(v % 100000u));
    }
}

void
dbk_safety_number(char out[DBK_SAFETY_NUMBER_LEN + 1], const char *digits_a, const char *digits_b)
{
    const char *first = strcmp(digits_a, digits_b) <= 0 ? digits_a : digits_b;
    const char *second = first == digits_a ? digits_b : digits_a;
    char all[2 * DBK_SAFETY_DIGITS];
    char *p = out;

    memcpy(all, first, DBK_SAFETY_DIGITS);
    memcpy(all + DBK_SAFETY_DIGITS, second, DBK_SAFETY_DIGITS);
    for (int g = 0; g < 12; g++) {
        if (g > 0)
            *p++ = ' ';
        memcpy(p, all + 5 * g, 5);
        p += 5;
    }
    *p = '\0';
}
