/*
 * The plaintext check's hook in the test harness: every profile the real daybook
 * CLI used successfully in an integration test is, before its directory is
 * removed (dbk_rmtree) or at exit, opened by tests/tools/dbk_plaindump and its
 * plaintexts appended to $DAYBOOK_PLAINTEXTS/<test>-<pid>.jsonl.
 * tests/schemas/check_plaintexts.mjs (ctest spec.plaintexts, run after the
 * integration tests) validates every line against proto/schemas, so what is
 * checked is everything the C client and counselor wrote, not a sample.
 *
 * Off unless ctest sets DAYBOOK_PLAINTEXTS and DAYBOOK_PLAINDUMP. A profile is
 * noted after a daybook run that exited 0 with a daybook.db present, together
 * with the passphrase that run was given (a test that changes the passphrase
 * leaves several candidates; the dump tries each).
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* program_invocation_short_name */
#endif
#include "dbk_test.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define MAX_PROFILES 64
#define MAX_PASS 8

static struct profile {
    char *home;
    char *pass[MAX_PASS];
    size_t npass;
    bool dumped;
} profiles[MAX_PROFILES];
static size_t nprofiles;
static bool atexit_set;

static bool
enabled(void)
{
    const char *a = getenv("DAYBOOK_PLAINTEXTS"), *b = getenv("DAYBOOK_PLAINDUMP");
    return a && *a && b && *b;
}

/* The profile directory a daybook run with this environment uses (client/local.c). */
static char *
profile_dir(void)
{
    const char *h = getenv("DAYBOOK_HOME"), *x = getenv("XDG_DATA_HOME"), *home = getenv("HOME");
    char buf[4096];
    if (h && *h)
        snprintf(buf, sizeof buf, "%s", h);
    else if (x && *x)
        snprintf(buf, sizeof buf, "%s/daybook", x);
    else if (home && *home)
        snprintf(buf, sizeof buf, "%s/.local/share/daybook", home);
    else
        return NULL;
    return strdup(buf);
}

static char *
first_line(const char *path)
{
    char buf[1024];
    FILE *f = path && *path ? fopen(path, "r") : NULL;
    if (f == NULL)
        return NULL;
    if (fgets(buf, sizeof buf, f) == NULL)
        buf[0] = '\0';
    fclose(f);
    buf[strcspn(buf, "\n")] = '\0';
    return strdup(buf);
}

static void
dump(struct profile *p)
{
    char db[4200], out[4200], in[MAX_PASS * 1025] = "";
    const char *argv[] = {getenv("DAYBOOK_PLAINDUMP"), p->home, NULL};
    const char *prog = program_invocation_short_name;
    dbk_run_result r;
    FILE *f;

    p->dumped = true;
    snprintf(db, sizeof db, "%s/daybook.db", p->home);
    if (access(db, F_OK) != 0)
        return; /* the test removed the profile itself */
    for (size_t i = 0; i < p->npass; i++) {
        strncat(in, p->pass[i], sizeof in - strlen(in) - 2);
        strcat(in, "\n");
    }
    (void)mkdir(getenv("DAYBOOK_PLAINTEXTS"), 0755); /* plaintexts.reset removed it */
    snprintf(out, sizeof out, "%s/%s-%ld.jsonl", getenv("DAYBOOK_PLAINTEXTS"), prog,
             (long)getpid());
    if ((f = fopen(out, "a")) == NULL) {
        fprintf(stderr, "plaintext check: cannot write %s: %s\n", out, strerror(errno));
        return;
    }
    if (dbk_run(argv, in[0] ? in : "\n", 60, &r) != 0 || r.status != 0) {
        json_t *e = json_pack("{s:s, s:s, s:s}", "source", "dump_failed", "profile", p->home,
                              "error", r.err ? r.err : "");
        char *s = json_dumps(e, JSON_COMPACT);
        fprintf(f, "%s\n", s);
        fprintf(stderr, "plaintext check: dbk_plaindump failed on %s: %s", p->home,
                r.err ? r.err : "");
        free(s);
        json_decref(e);
    } else {
        fputs(r.out, f);
    }
    dbk_run_result_free(&r);
    fclose(f);
}

static void
dump_rest(void)
{
    for (size_t i = 0; i < nprofiles; i++)
        if (!profiles[i].dumped)
            dump(&profiles[i]);
}

void
dbk_plaincheck_note(const char *const *argv, int status)
{
    const char *daybook = getenv("DAYBOOK");
    char db[4200], *home, *pass;
    struct profile *p = NULL;

    if (status != 0 || !enabled() || daybook == NULL || strcmp(argv[0], daybook) != 0 ||
        (home = profile_dir()) == NULL)
        return;
    snprintf(db, sizeof db, "%s/daybook.db", home);
    if (access(db, F_OK) != 0) {
        free(home);
        return;
    }
    for (size_t i = 0; i < nprofiles && p == NULL; i++)
        if (strcmp(profiles[i].home, home) == 0)
            p = &profiles[i];
    if (p == NULL && nprofiles < MAX_PROFILES) {
        p = &profiles[nprofiles++];
        p->home = home;
        home = NULL;
    }
    free(home);
    if (p == NULL)
        return;
    p->dumped = false;
    if ((pass = first_line(getenv("DAYBOOK_PASSPHRASE_FILE"))) != NULL) {
        bool known = false;
        for (size_t i = 0; i < p->npass; i++)
            known = known || strcmp(p->pass[i], pass) == 0;
        if (!known && p->npass < MAX_PASS)
            p->pass[p->npass++] = pass;
        else
            free(pass);
    }
    if (!atexit_set)
        atexit_set = atexit(dump_rest) == 0;
}

void
dbk_plaincheck_before_rm(const char *path)
{
    size_t n = strlen(path);
    for (size_t i = 0; i < nprofiles; i++)
        if (!profiles[i].dumped && strncmp(profiles[i].home, path, n) == 0 &&
            (profiles[i].home[n] == '\0' || profiles[i].home[n] == '/'))
            dump(&profiles[i]);
}

void
dbk_plaincheck_forget(const char *home)
{
    for (size_t i = 0; i < nprofiles; i++)
        if (strcmp(profiles[i].home, home) == 0)
            profiles[i].dumped = true; /* damaged on purpose: nothing to check */
}
