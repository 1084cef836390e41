/*
 * fuzz_answer: how the client reads a server's answer (client/sync/net.c): the narrow
 * reader dbk_fj_load of common/fastjson.c first, jansson's json_loadb when it declines.
 * The server is an adversary to the client, so the narrow reader must never read a
 * document otherwise than jansson does.
 *
 * Invariants: whatever dbk_fj_load reads, json_loadb (flags 0, as the client calls
 * it) reads too, to an equal tree (json_equal: same types, same values) whose compact
 * dump is byte for byte the same (same key order, a repeated key keeping its last
 * value in its first place); the input is copied to a heap block of exactly its size,
 * so ASan sees a read past its end.
 */
#include "fuzz.h"

#include "dbk/fastjson.h"

#include <string.h>

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    fuzz_init();
    return 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *text = malloc(size ? size : 1);
    json_t *fast, *slow;

    FUZZ_CHECK(text != NULL);
    memcpy(text, data, size);
    fast = dbk_fj_load(text, size);
    slow = json_loadb(text, size, 0, NULL);
    FUZZ_TRACE("fuzz_answer: %zu bytes: narrow %s, jansson %s\n", size, fast ? "read" : "declined",
               slow ? "read" : "refused");
    if (fast != NULL) {
        char *a = json_dumps(fast, JSON_COMPACT), *b;
        FUZZ_CHECK(slow != NULL);
        FUZZ_CHECK(json_equal(fast, slow));
        b = json_dumps(slow, JSON_COMPACT);
        FUZZ_CHECK(a != NULL && b != NULL && strcmp(a, b) == 0);
        free(a);
        free(b);
    }
    json_decref(fast);
    json_decref(slow);
    free(text);
    return 0;
}
