/*
 * The crisis card: help that works offline, shown after a hard moment and by
 * `daybook help-now`. In order: the client's safety plan (when the keys are open),
 * the clinic's own numbers as pinned at enrollment (trust/help_pin.h), then the
 * national lines of DOMAIN.md. Never needs a network or a passphrase.
 */
#include "crisis.h"
#include "entries.h"
#include "help_pin.h"
#include "plan.h"

#include "dbk/error.h"

#include <string.h>

/* The clinic's numbers pinned in s (NULL: this device's profile, if any). */
static void
clinic_lines(FILE *out, dbk_session *s)
{
    dbk_session own;
    bool opened = false;
    int source;
    size_t i;
    const json_t *x;

    if (s == NULL) {
        if (dbk_session_open(&own, false) != DBK_OK)
            return;
        s = &own, opened = true;
    }
    json_t *lines = dbk_trust_help_lines(s, &source);
    /* The clinic's own numbers first: the people who know the client. */
    json_array_foreach(lines, i, x)
        fprintf(out, "    %-19s %s\n", /* at most 80 columns (dbk/helplines.h) */
                json_string_value(json_object_get(x, "number")),
                json_string_value(json_object_get(x, "label")));
    if (dbk_trust_help_refused(s))
        fprintf(out, "    (The server has since listed other clinic numbers; these are the "
                     "ones\n     from when you enrolled. Ask your counselor which are right.)\n");
    json_decref(lines);
    if (opened)
        dbk_session_close(&own);
}

static void
card(FILE *out, dbk_session *s)
{
    fprintf(out, "\n  If you need help now:\n");
    clinic_lines(out, s);
    fprintf(out,
            "    988                 Suicide & Crisis Lifeline: call or text, 24/7,\n"
            "                        substance-use crises too\n"
            "    1-800-662-4357      SAMHSA National Helpline: free, confidential, 24/7\n"
            "                        (treatment referral and information)\n"
            "    911                 if you are in immediate danger\n");
    fprintf(out, "\n  Your counselor reads your entries before your next session.\n"
                 "  Nobody watches them in real time.\n\n");
}

void
dbk_crisis_card(FILE *out)
{
    card(out, NULL);
}

bool
dbk_crisis_plan(FILE *out, dbk_session *s)
{
    const dbk_plan_kind *k = dbk_plan_kind_find("safety");
    dbk_eu_list l;
    bool any = false;
    memset(&l, 0, sizeof l);
    if (s != NULL && s->keys != NULL && k != NULL && dbk_eu_load(s, &l) == DBK_OK) {
        const dbk_eu_entry *e = dbk_plan_current(&l, &s->account, k, NULL);
        const json_t *sec = e != NULL ? json_object_get(e->doc, "sections") : NULL;
        for (size_t i = 0; sec != NULL && i < k->nsections; i++) {
            const json_t *items = json_object_get(sec, k->sections[i].key), *x;
            size_t j;
            if (json_array_size(items) == 0)
                continue;
            if (!any)
                fprintf(out, "\n  Your safety plan:\n");
            any = true;
            fprintf(out, "  %s\n", k->sections[i].heading);
            json_array_foreach(items, j, x)
                fprintf(out, "    - %.200s\n", json_string_value(x) ? json_string_value(x) : "");
        }
    }
    dbk_eu_free(&l);
    return any;
}

void
dbk_crisis_card_for(FILE *out, dbk_session *s)
{
    (void)dbk_crisis_plan(out, s);
    card(out, s);
}
