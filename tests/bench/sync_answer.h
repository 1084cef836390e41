/*
 * A JSON walker for daybookd's sync answers, for the load generator (bench_load.c),
 * which builds nothing: the generator shares the cores with the server, and
 * jansson's tree of every answer was most of the generator's CPU. Checked against
 * jansson by tests/unit/test_sync_answer.c.
 */
#ifndef DBK_BENCH_SYNC_ANSWER_H
#define DBK_BENCH_SYNC_ANSWER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Reads a sync answer's two cursors; false unless body[0..len) is one JSON object
 * whose "pull" holds exactly two objects, each with an integer "next" (and neither
 * key twice). Nothing past body[len - 1] is read. */
bool bl_sync_answer_read(const char *body, size_t len, int64_t next[2]);

#endif
