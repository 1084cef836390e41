/*
 * Shared by the fuzz targets in tests/fuzz/ (see README.md there).
 *
 * Every target defines LLVMFuzzerTestOneInput and LLVMFuzzerInitialize. Built with
 * DAYBOOK_FUZZ=ON (clang) they link libFuzzer's main; otherwise replay_main.c
 * drives them over their seed corpus as an ordinary ctest case.
 */
#ifndef DBK_FUZZ_H
#define DBK_FUZZ_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv);

/*
 * An invariant of the code under test. A failure aborts, which libFuzzer reports
 * as a crash with the input that caused it (and the replay driver as a failed test).
 */
#define FUZZ_CHECK(cond)                                                                           \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf(stderr, "%s:%d: invariant failed: %s\n", __FILE__, __LINE__, #cond);          \
            abort();                                                                               \
        }                                                                                          \
    } while (0)

/* With DBK_FUZZ_TRACE set in the environment, targets say what each input did (to
 * see what a seed reaches, or to read a crash report). */
extern int fuzz_tracing;
#define FUZZ_TRACE(...)                                                                            \
    do {                                                                                           \
        if (fuzz_tracing)                                                                          \
            fprintf(stderr, __VA_ARGS__);                                                          \
    } while (0)

/* Process set-up shared by all targets: libsodium, and logs sent to /dev/null (still
 * formatted, so the log writer is exercised too). Aborts on failure. */
void fuzz_init(void);

/*
 * Known findings (README.md) that a run may be told to tolerate until they are fixed,
 * so fuzzing can go on past them: DBK_FUZZ_KNOWN=b64-high-bytes makes the targets
 * skip their canonical-spelling checks for base64url text containing a byte >= 0x80
 * (libsodium 1.0.18 decodes every such byte as the digit '_'). Returns 1 to skip.
 */
int fuzz_known_b64_high_bytes(const char *text, size_t n);

/* proto/vectors/<name>, parsed; DAYBOOK_VECTORS overrides the directory. Aborts if
 * missing. The caller owns the reference. */
json_t *fuzz_vectors(const char *name);
/* The hex field key of vector case c decoded into exactly n bytes; aborts otherwise. */
void fuzz_vec_fixed(json_t *c, const char *key, unsigned char *out, size_t n);
/* The hex field key of case c, malloc'd, with its length in *len; aborts if malformed. */
unsigned char *fuzz_vec_bytes(json_t *c, const char *key, size_t *len);
/* A decimal-string field of case c. */
uint64_t fuzz_vec_u64(json_t *c, const char *key);

/*
 * Byte strings known to be validly signed: every value of field key in every case
 * (positive and negative) of a vector file. Signatures are strongly unforgeable,
 * so an input that verifies must be one of these.
 */
typedef struct fuzz_known {
    unsigned char **b;
    size_t *len;
    size_t n;
} fuzz_known;
void fuzz_known_load(fuzz_known *k, json_t *file, const char *key);
int fuzz_known_has(const fuzz_known *k, const unsigned char *b, size_t len);

#endif
