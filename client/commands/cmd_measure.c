/*
 * daybook measure INSTRUMENT: answer a validated questionnaire (PHQ-9, GAD-7, BAM;
 * client/book/measures.h) offline, and save the answers and their published score
 * as a record (proto/schemas/measure.schema.json), shared with the counselor
 * unless --private. Any answer but "not at all" to the PHQ-9's item 9 shows the
 * crisis card at once, whether or not the record could be saved.
 */
#include "cmd.h"
#include "crisis.h"
#include "entry.h"
#include "measures.h"

#include "dbk/error.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static int
usage(void)
{
    fprintf(stderr,
            "usage: daybook measure INSTRUMENT [--answers LIST] [--private]\n"
            "       daybook measure --list\n"
            "  INSTRUMENT      phq9 (depression), gad7 (anxiety) or bam (Brief Addiction\n"
            "                  Monitor, the past 30 days)\n"
            "  --answers LIST  every item's answer, comma-separated, in order; '-' for an\n"
            "                  item not asked (the difficulty question; BAM item 5 when\n"
            "                  item 4 is 0). Without it, each item is asked on the terminal.\n"
            "  --private       keep the result on your own devices only\n"
            "       daybook measure due [--client CLIENT]   what your counselor scheduled\n"
            "       daybook measure schedule CLIENT INSTRUMENT --every DAYS [--start DATE]\n"
            "       daybook measure unschedule CLIENT INSTRUMENT           (counselors)\n");
    return DBK_EXIT_USAGE;
}

static void
print_list(dbk_ctx *ctx)
{
    size_t n;
    const dbk_measure *const *all = dbk_measure_all(&n);
    if (ctx->json) {
        json_t *a = json_array();
        for (size_t i = 0; i < n; i++)
            json_array_append_new(a, json_pack("{s:s, s:s, s:i}", "id", all[i]->id, "name",
                                               all[i]->name, "items", (int)all[i]->nitems));
        char *t = json_dumps(a, JSON_COMPACT);
        if (t != NULL)
            puts(t);
        free(t);
        json_decref(a);
        return;
    }
    for (size_t i = 0; i < n; i++)
        printf("%-6s %s\n", all[i]->id, all[i]->name);
}

/* Parses LIST into answers (n of them); says what is wrong and returns false. */
static bool
parse_answers(const dbk_measure *m, const char *list, int *answers)
{
    size_t i = 0;
    const char *p = list;
    while (*p != '\0' && i < m->nitems) {
        size_t len = strcspn(p, ",");
        if (len == 1 && *p == '-') {
            answers[i] = -1;
        } else {
            char *end;
            long v = strtol(p, &end, 10);
            if (end != p + len || len == 0 || v < 0 || v > dbk_measure_item_max(&m->items[i])) {
                fprintf(stderr, "daybook: --answers: item %s takes 0 to %d, not '%.*s'\n",
                        m->items[i].id, dbk_measure_item_max(&m->items[i]), (int)len, p);
                return false;
            }
            answers[i] = (int)v;
        }
        i++;
        p += len;
        if (*p == ',')
            p++;
    }
    if (i != m->nitems || *p != '\0') {
        fprintf(stderr, "daybook: --answers: %s has %zu items; give %zu answers\n", m->name,
                m->nitems, m->nitems);
        return false;
    }
    return true;
}

/* Whether item i is asked, given the answers before it. */
static bool
item_asked(const dbk_measure *m, size_t i, const int *answers)
{
    if (strcmp(m->id, "bam") == 0 && strcmp(m->items[i].id, "5") == 0)
        return answers[i - 1] != 0; /* no drinking days: no heavy-drinking question */
    if (m->items[i].kind == DBK_ANSWER_DIFF4) {
        for (size_t k = 0; k < i; k++)
            if (m->items[k].scored && answers[k] > 0)
                return true;
        return false; /* "if you checked off any problems" */
    }
    return true;
}

/* Asks one item until the answer is in range; false at end of input. */
static bool
ask_item(const dbk_measure *m, size_t i, int *answer)
{
    const dbk_measure_item *it = &m->items[i];
    int max = dbk_measure_item_max(it);
    char line[64];

    printf("\n%s. %s\n", it->id, it->text);
    if (it->kind == DBK_ANSWER_DAYS30)
        printf("   Number of days, 0 to 30.\n");
    else
        for (int a = 0; a <= max; a++)
            if (dbk_measure_answer_label(it, a) != NULL)
                printf("   %d  %s\n", a, dbk_measure_answer_label(it, a));
    for (;;) {
        printf("> ");
        fflush(stdout);
        if (fgets(line, sizeof line, stdin) == NULL)
            return false;
        line[strcspn(line, "\r\n")] = '\0';
        char *end;
        long v = strtol(line, &end, 10);
        if (end != line && *end == '\0' && v >= 0 && v <= max &&
            (it->kind != DBK_ANSWER_YESNO4 || v == 0 || v == 4)) {
            *answer = (int)v;
            return true;
        }
        printf("   Please type %s.\n", it->kind == DBK_ANSWER_YESNO4 ? "0 (no) or 4 (yes)"
                                    : it->kind == DBK_ANSWER_DAYS30 ? "a number from 0 to 30"
                                                                    : "one of the numbers above");
    }
}

static bool
ask_all(const dbk_measure *m, int *answers)
{
    printf("%s\n%s\n", m->name, m->stem);
    for (size_t i = 0; i < m->nitems; i++) {
        answers[i] = -1;
        if (item_asked(m, i, answers) && !ask_item(m, i, &answers[i]))
            return false;
    }
    return true;
}

/* The record: answers by item id, and the score as computed here (readers recompute). */
static json_t *
make_doc(const dbk_measure *m, const int *answers, const dbk_measure_score *sc)
{
    char when[40], tz[64];
    json_t *a = json_object(), *score;
    dbk_now_rfc3339(when);
    dbk_local_tz(tz, sizeof tz);
    for (size_t i = 0; i < m->nitems; i++)
        if (answers[i] >= 0)
            json_object_set_new(a, m->items[i].id, json_integer(answers[i]));
    if (sc->total >= 0)
        score = json_pack("{s:i, s:s, s:b}", "total", sc->total, "band", sc->band, "self_harm",
                          sc->self_harm);
    else
        score = json_pack("{s:i, s:i, s:i}", "use", sc->use, "risk", sc->risk, "protective",
                          sc->protective);
    return json_pack("{s:s, s:i, s:s, s:s, s:s, s:o, s:o}", "type", "measure", "v", 1,
                     "instrument", m->id, "answered_at", when, "tz", tz, "answers", a, "score",
                     score);
}

static void
print_score(const dbk_measure *m, const dbk_measure_score *sc)
{
    if (sc->total >= 0)
        printf("%s score: %d (%s).\n", m->name, sc->total, sc->band);
    else
        printf("%s: Use %d of 12%s, Risk %d of 24%s, Protective %d of 24%s.\n", m->name,
               sc->use, sc->use_flag ? " (any use)" : "", sc->risk,
               sc->risk_flag ? " (12 or more)" : "", sc->protective,
               sc->protective_flag ? " (12 or less)" : "");
    printf("A score is a conversation starter with your counselor, not a diagnosis.\n");
}

static void
print_saved(dbk_ctx *ctx, const dbk_measure *m, const dbk_measure_score *sc, const char *id,
            bool private_)
{
    if (ctx->json) {
        printf("{\"id\":\"%s\",\"instrument\":\"%s\",", id, m->id);
        if (sc->total >= 0)
            printf("\"total\":%d,\"band\":\"%s\",\"self_harm\":%s}\n", sc->total, sc->band,
                   sc->self_harm ? "true" : "false");
        else
            printf("\"use\":%d,\"risk\":%d,\"protective\":%d}\n", sc->use, sc->risk,
                   sc->protective);
        return;
    }
    printf("Saved (%s)%s.\n", id,
           private_ ? ", private: only your own devices can read it"
                    : "; your counselor can read it after you sync");
    print_score(m, sc);
}

static int
run(dbk_ctx *ctx, int argc, char **argv)
{
    static const struct option opts[] = {
        {"answers", required_argument, NULL, 'a'}, {"private", no_argument, NULL, 'p'},
        {"list", no_argument, NULL, 'l'},          {NULL, 0, NULL, 0},
    };
    const char *list = NULL;
    bool private_ = false, want_list = false;
    int answers[DBK_MEASURE_ITEMS_MAX], opt, rc;
    const dbk_measure *m;
    dbk_measure_score sc;
    char t[DBK_ID_TEXT_LEN + 1];
    dbk_session s;
    dbk_id id;
    json_t *doc;

    if (argc >= 2 && (strcmp(argv[1], "schedule") == 0 || strcmp(argv[1], "unschedule") == 0))
        return dbk_cmd_measure_schedule(ctx, argc - 1, argv + 1, argv[1][0] == 'u');
    if (argc >= 2 && strcmp(argv[1], "due") == 0)
        return dbk_cmd_measure_due(ctx, argc - 1, argv + 1);
    optind = 1;
    while ((opt = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (opt) {
        case 'a': list = optarg; break;
        case 'p': private_ = true; break;
        case 'l': want_list = true; break;
        default: return usage();
        }
    }
    if (want_list) {
        print_list(ctx);
        return DBK_EXIT_OK;
    }
    if (optind != argc - 1)
        return usage();
    if ((m = dbk_measure_find(argv[optind])) == NULL) {
        fprintf(stderr, "daybook: no measure '%s'; 'daybook measure --list' shows them\n",
                argv[optind]);
        return DBK_EXIT_USAGE;
    }
    if (list != NULL ? !parse_answers(m, list, answers) : !isatty(STDIN_FILENO)) {
        if (list == NULL)
            fprintf(stderr, "daybook: not a terminal: give the answers with --answers\n");
        return DBK_EXIT_USAGE;
    }
    if (list == NULL && !ask_all(m, answers)) {
        fprintf(stderr, "daybook: input ended; nothing saved\n");
        return DBK_EXIT_FAIL;
    }
    if (!dbk_measure_score_answers(m, answers, m->nitems, &sc)) {
        fprintf(stderr, "daybook: %s needs an answer to every item it asks (only the "
                        "difficulty question, and BAM item 5 when item 4 is 0, may be '-')\n",
                m->name);
        return DBK_EXIT_USAGE;
    }
    doc = make_doc(m, answers, &sc);
    if ((rc = dbk_session_open(&s, false)) != DBK_OK) {
        json_decref(doc);
        if (sc.self_harm)
            dbk_crisis_card(stderr);
        return dbk_cmd_no_profile(rc);
    }
    rc = dbk_entry_save(&s, private_ ? DBK_LOCAL_PRIVATE : DBK_LOCAL_SHARED, NULL, doc, &id);
    dbk_session_close(&s);
    json_decref(doc);
    if (rc != DBK_OK) {
        if (sc.self_harm)
            dbk_crisis_card(stderr);
        return dbk_cmd_fail("the answers were not saved", rc);
    }
    dbk_id_to_text(&id, t);
    print_saved(ctx, m, &sc, t, private_);
    if (sc.self_harm)
        dbk_crisis_card(ctx->json ? stderr : stdout);
    return DBK_EXIT_OK;
}

const dbk_cmd dbk_cmd_measure = {
    .name = "measure",
    .usage = "daybook measure phq9|gad7|bam [--answers LIST] [--private] | --list | due | "
             "schedule CLIENT INSTRUMENT --every DAYS | unschedule CLIENT INSTRUMENT",
    .summary = "answer a validated questionnaire (PHQ-9, GAD-7, BAM) and see its score",
    .run = run,
};
