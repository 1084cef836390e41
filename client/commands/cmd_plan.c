/*
 * daybook plan: the relapse-prevention plan and the safety plan (book/plan.h),
 * written together in session; the client and the counselor can both change them,
 * each change signed by whoever made it and kept in the plan's history.
 *
 *   daybook plan [show] [safety|relapse] [--client CLIENT] [--text]
 *   daybook plan set safety|relapse --from FILE|- [--client CLIENT]
 *   daybook plan history safety|relapse [--client CLIENT]
 *
 * A counselor names the client with --client; a client's own plans need nothing.
 */
#include "cmd.h"
#include "counselor.h"
#include "entries.h"
#include "output.h"
#include "plan.h"
#include "resolve.h"

#include "dbk/error.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PLAN_TEXT_MAX (256 * 1024)

static int
usage(void)
{
    fprintf(stderr,
            "usage: daybook plan [show] [safety|relapse] [--client CLIENT] [--text]\n"
            "       daybook plan set safety|relapse --from FILE|- [--client CLIENT]\n"
            "       daybook plan history safety|relapse [--client CLIENT]\n"
            "  The text form has a '## Heading' line per section and one item per line;\n"
            "  'daybook plan show KIND --text' prints it, ready to edit.\n");
    return DBK_EXIT_USAGE;
}

struct opts {
    const char *client, *from;
    bool text;
};

/* The session and whose plans: this account's, or the client --client names. */
static int
open_owner(dbk_session *s, const struct opts *o, dbk_id *owner)
{
    int rc;
    if ((rc = dbk_session_open(s, false)) != DBK_OK)
        return dbk_cmd_no_profile(rc);
    if ((rc = dbk_resolve_owner(s, "plan --client", o->client, owner)) != DBK_EXIT_OK)
        dbk_session_close(s);
    return rc;
}

/* Who wrote a revision, as the reader should see it. */
static const char *
author_of(const dbk_session *s, const dbk_id *owner, const dbk_id *author)
{
    if (dbk_id_equal(author, &s->account))
        return "you";
    if (dbk_id_equal(author, owner))
        return "the client";
    return s->role == DBK_ROLE_CLIENT ? "your counselor" : "another counselor";
}

static void
print_plan(const dbk_session *s, const dbk_id *owner, const dbk_plan_kind *k,
           const dbk_eu_entry *e)
{
    char when[32];
    printf("%s\n", k->name);
    if (e == NULL) {
        printf("  Not written yet. Write it with your counselor in session:\n"
               "  'daybook plan show %s --text > plan.txt', edit it, then\n"
               "  'daybook plan set %s --from plan.txt'.\n\n",
               k->id, k->id);
        return;
    }
    for (size_t i = 0; i < k->nsections; i++) {
        json_t *items = json_object_get(json_object_get(e->doc, "sections"), k->sections[i].key);
        json_t *v;
        size_t j;
        printf("  %s\n", k->sections[i].heading);
        if (json_array_size(items) == 0)
            printf("    (nothing yet)\n");
        json_array_foreach(items, j, v)
            printf("    - %s\n", json_string_value(v) ? json_string_value(v) : "");
    }
    dbk_eu_clock_text(e->hdr.rev.clock, when);
    printf("  Last changed by %s, %s%s.\n", author_of(s, owner, &e->hdr.author), when,
           e->pending ? " (not synced yet)" : "");
    printf("\n");
}

static int
cmd_show(dbk_ctx *ctx, const dbk_plan_kind *only, const struct opts *o)
{
    dbk_session s;
    dbk_eu_list l;
    dbk_id owner;
    json_t *all = json_object();
    int rc;

    if ((rc = open_owner(&s, o, &owner)) != DBK_EXIT_OK)
        return rc;
    if ((rc = dbk_eu_load_owned(&s, &owner, &l)) != DBK_OK) {
        dbk_session_close(&s);
        return dbk_cmd_fail("cannot read the plans", rc);
    }
    dbk_out_warn_unopened(&l);
    const char *ids[] = {"safety", "relapse_prevention"};
    for (size_t i = 0; i < 2; i++) {
        const dbk_plan_kind *k = dbk_plan_kind_find(ids[i]);
        if (only != NULL && only != k)
            continue;
        const dbk_eu_entry *e = dbk_plan_current(&l, &owner, k, NULL);
        if (o->text) {
            char *t = dbk_plan_format(k, e ? json_object_get(e->doc, "sections") : NULL);
            if (t != NULL)
                fputs(t, stdout);
            free(t);
        } else if (ctx->json) {
            json_object_set_new(all, k->id, e ? json_deep_copy(e->doc) : json_null());
        } else {
            print_plan(&s, &owner, k, e);
        }
    }
    if (ctx->json && !o->text)
        dbk_out_json(stdout, all);
    json_decref(all);
    dbk_eu_free(&l);
    dbk_session_close(&s);
    return DBK_EXIT_OK;
}

/* The whole of path ("-": standard input), at most PLAN_TEXT_MAX bytes; malloc'd. */
static char *
read_all(const char *path)
{
    FILE *f = strcmp(path, "-") == 0 ? stdin : fopen(path, "r");
    char *b = f ? malloc(PLAN_TEXT_MAX + 1) : NULL;
    size_t n = b ? fread(b, 1, PLAN_TEXT_MAX + 1, f) : 0;
    if (f != NULL && f != stdin)
        fclose(f);
    if (b == NULL || n > PLAN_TEXT_MAX) {
        fprintf(stderr, "daybook: cannot read %s%s\n", path,
                b ? ": over 256 KiB" : f ? "" : ": no such file");
        free(b);
        return NULL;
    }
    b[n] = '\0';
    return b;
}

static int
cmd_set(dbk_ctx *ctx, const dbk_plan_kind *k, const struct opts *o)
{
    char err[160], now[40], tz[64], t[DBK_ID_TEXT_LEN + 1];
    char *text = read_all(o->from);
    json_t *sections, *doc;
    dbk_local_stream st;
    dbk_session s;
    dbk_eu_list l;
    dbk_id owner, id;
    int rc;

    if (text == NULL)
        return DBK_EXIT_FAIL;
    sections = dbk_plan_parse(k, text, err, sizeof err);
    dbk_eu_wipe_free(text);
    if (sections == NULL) {
        fprintf(stderr, "daybook: %s; nothing saved ('daybook plan show %s --text' shows the "
                        "headings)\n",
                err, k->id);
        return DBK_EXIT_USAGE;
    }
    if ((rc = open_owner(&s, o, &owner)) != DBK_EXIT_OK) {
        json_decref(sections);
        return rc;
    }
    dbk_now_rfc3339(now);
    dbk_local_tz(tz, sizeof tz);
    doc = dbk_plan_doc(k, sections, now, tz);
    json_decref(sections);
    if ((rc = dbk_local_stream_of(s.L, &owner, DBK_LOCAL_SHARED, &st)) == DBK_OK &&
        (rc = dbk_eu_load_owned(&s, &owner, &l)) == DBK_OK) {
        /* The owner revises the newest plan; a counselor, the newest of its own. */
        const dbk_eu_entry *cur = dbk_plan_current(
            &l, &owner, k, dbk_id_equal(&owner, &s.account) ? NULL : &s.account);
        dbk_id record = cur ? cur->hdr.record : (dbk_id){{0}};
        rc = dbk_entry_save_in(&s, &st.id, cur ? &record : NULL, doc, &id);
        dbk_eu_free(&l);
    }
    dbk_session_close(&s);
    json_decref(doc);
    if (rc != DBK_OK)
        return dbk_cmd_fail(rc == DBK_E_NOT_FOUND ? "the plan was not saved (no key for the "
                                                    "client's stream: run 'daybook sync')"
                                                  : "the plan was not saved",
                            rc);
    dbk_id_to_text(&id, t);
    if (ctx->json)
        printf("{\"id\":\"%s\",\"kind\":\"%s\"}\n", t, k->id);
    else
        printf("Saved the %s (%s); %s after the next sync.\n", k->name, t,
               o->client ? "the client sees it" : "your counselor sees it");
    return DBK_EXIT_OK;
}

/* Newest first. */
static int
by_clock_desc(const void *a, const void *b)
{
    const dbk_eu_rev *x = a, *y = b;
    return x->hdr.rev.clock < y->hdr.rev.clock ? 1 : x->hdr.rev.clock > y->hdr.rev.clock ? -1 : 0;
}

/* Every revision of every plan record of kind k of owner, newest first, into *out. */
static int
plan_revisions(dbk_session *s, const dbk_eu_list *l, const dbk_id *owner,
               const dbk_plan_kind *k, dbk_eu_rev **out, size_t *n)
{
    *out = NULL;
    *n = 0;
    for (size_t i = 0; i < l->n; i++) {
        const dbk_eu_entry *e = &l->v[i];
        const char *kind = json_string_value(json_object_get(e->doc, "kind"));
        dbk_eu_rev *r, *all;
        size_t m;
        int rc;
        if (strcmp(e->type, "plan") != 0 || kind == NULL || strcmp(kind, k->id) != 0 ||
            !dbk_id_equal(&e->owner, owner))
            continue;
        if ((rc = dbk_eu_revisions(s, &e->hdr.record, &r, &m)) != DBK_OK)
            return rc;
        if ((all = realloc(*out, (*n + m) * sizeof *all)) == NULL) {
            dbk_eu_revisions_free(r, m);
            return DBK_E_NOMEM;
        }
        memcpy(all + *n, r, m * sizeof *r);
        free(r); /* the docs moved into all */
        *out = all;
        *n += m;
    }
    if (*n > 1)
        qsort(*out, *n, sizeof **out, by_clock_desc);
    for (size_t i = 0; i < *n; i++)
        (*out)[i].current = i == 0; /* the plan is the newest revision of any record */
    return DBK_OK;
}

static int
cmd_history(dbk_ctx *ctx, const dbk_plan_kind *k, const struct opts *o)
{
    dbk_session s;
    dbk_eu_list l;
    dbk_eu_rev *revs = NULL;
    size_t n = 0;
    dbk_id owner;
    json_t *arr = json_array();
    int rc;

    if ((rc = open_owner(&s, o, &owner)) != DBK_EXIT_OK)
        return rc;
    if ((rc = dbk_eu_load_owned(&s, &owner, &l)) == DBK_OK) {
        rc = plan_revisions(&s, &l, &owner, k, &revs, &n);
        dbk_eu_free(&l);
    }
    if (rc != DBK_OK) {
        dbk_eu_revisions_free(revs, n);
        dbk_session_close(&s);
        return dbk_cmd_fail("cannot read the plan's history", rc);
    }
    if (n == 0 && !ctx->json)
        printf("No %s yet.\n", k->name);
    for (size_t i = 0; i < n; i++) {
        char when[32];
        size_t items = 0;
        const char *key;
        json_t *v;
        json_object_foreach(json_object_get(revs[i].doc, "sections"), key, v)
            items += json_array_size(v);
        dbk_eu_clock_text(revs[i].hdr.rev.clock, when);
        if (ctx->json)
            json_array_append_new(arr, json_pack("{s:s, s:s, s:i, s:b}", "changed", when, "by",
                                                 author_of(&s, &owner, &revs[i].hdr.author),
                                                 "items", (int)items, "current",
                                                 revs[i].current));
        else
            printf("%s  by %-16s %3zu item%s%s\n", when, author_of(&s, &owner, &revs[i].hdr.author),
                   items, items == 1 ? " " : "s", revs[i].current ? "  (current)" : "");
    }
    if (ctx->json)
        dbk_out_json(stdout, arr);
    json_decref(arr);
    dbk_eu_revisions_free(revs, n);
    dbk_session_close(&s);
    return DBK_EXIT_OK;
}

static int
run(dbk_ctx *ctx, int argc, char **argv)
{
    static const struct option opts[] = {
        {"client", required_argument, NULL, 'c'},
        {"from", required_argument, NULL, 'f'},
        {"text", no_argument, NULL, 't'},
        {NULL, 0, NULL, 0},
    };
    struct opts o = {NULL, NULL, false};
    const char *verb = "show";
    const dbk_plan_kind *k = NULL;
    int opt;

    if (argc >= 2 && (strcmp(argv[1], "show") == 0 || strcmp(argv[1], "set") == 0 ||
                      strcmp(argv[1], "history") == 0)) {
        verb = argv[1];
        argc--, argv++;
    }
    optind = 1;
    while ((opt = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (opt) {
        case 'c': o.client = optarg; break;
        case 'f': o.from = optarg; break;
        case 't': o.text = true; break;
        default: return usage();
        }
    }
    if (optind < argc && (k = dbk_plan_kind_find(argv[optind])) == NULL) {
        fprintf(stderr, "daybook: no plan '%s': the plans are safety and relapse\n",
                argv[optind]);
        return DBK_EXIT_USAGE;
    }
    if (argc - optind > 1 || (strcmp(verb, "show") != 0 && k == NULL))
        return usage();
    if (strcmp(verb, "set") == 0) {
        if (o.from == NULL) {
            fprintf(stderr, "daybook: plan set needs --from FILE (or - for standard input)\n");
            return DBK_EXIT_USAGE;
        }
        return cmd_set(ctx, k, &o);
    }
    if (o.from != NULL)
        return usage();
    return strcmp(verb, "history") == 0 ? cmd_history(ctx, k, &o) : cmd_show(ctx, k, &o);
}

const dbk_cmd dbk_cmd_plan = {
    .name = "plan",
    .usage = "daybook plan [show|set|history] [safety|relapse] [--client C] [--from FILE]",
    .summary = "the safety plan and the relapse-prevention plan, written together in session",
    .run = run,
};
