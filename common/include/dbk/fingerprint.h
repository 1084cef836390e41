/*
 * Fingerprints and safety numbers (proto/CRYPTO.md §7). The short form rides in
 * an enrollment code so a client can refuse a counselor key a server substituted;
 * the 60-digit safety number is what two people compare in person.
 */
#ifndef DBK_FINGERPRINT_H
#define DBK_FINGERPRINT_H

#include "dbk/id.h"

#include <stddef.h>

#define DBK_FP_BYTES 32
#define DBK_FP_SHORT_BYTES 16
#define DBK_FP_SHORT_LEN 22     /* characters of the short form */
#define DBK_SAFETY_DIGITS 30    /* per account */
#define DBK_SAFETY_NUMBER_LEN 71 /* 60 digits in 12 groups of 5, with 11 spaces */

void dbk_fingerprint(unsigned char out[DBK_FP_BYTES], const dbk_id *account,
                     const unsigned char sign_pk[32], const unsigned char box_pk[32]);
/* The 22-character short form, NUL-terminated. */
void dbk_fingerprint_short(char out[DBK_FP_SHORT_LEN + 1], const dbk_id *account,
                           const unsigned char sign_pk[32], const unsigned char box_pk[32]);
/* DBK_OK if text (n chars) is the short form of these keys, else DBK_E_FINGERPRINT. */
int dbk_fingerprint_check(const char *text, size_t n, const dbk_id *account,
                          const unsigned char sign_pk[32], const unsigned char box_pk[32]);
/* One account's 30 digits, NUL-terminated. */
void dbk_safety_digits(char out[DBK_SAFETY_DIGITS + 1], const dbk_id *account,
                       const unsigned char sign_pk[32], const unsigned char box_pk[32]);
/* The pair's safety number from both accounts' digits, in either order. */
void dbk_safety_number(char out[DBK_SAFETY_NUMBER_LEN + 1], const char *digits_a,
                       const char *digits_b);

#endif
