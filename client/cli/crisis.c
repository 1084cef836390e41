/* The crisis card; the numbers are the ones in DOMAIN.md and never need a network. */
#include "crisis.h"
#include "entries.h"
#include "plan.h"

#include "dbk/error.h"

#include <stdlib.h>
#include <string.h>

void
dbk_crisis_card(FILE *out)
{
    const char *clinic = getenv("DAYBOOK_CLINIC_PHONE"), *name = getenv("DAYBOOK_CLINIC_NAME");
    fprintf(out, "\n  If you need help now:\n");
    /* The clinic's own number first: the people who know the client. */
    if (clinic != NULL && *clinic)
        fprintf(out, "    %-19s %.50s\n", clinic, name != NULL && *name ? name : "your clinic");
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
dbk_crisis_card_for(FILE *out, dbk_session *s)
{
    const dbk_plan_kind *k = dbk_plan_kind_find("safety");
    dbk_eu_list l;
    memset(&l, 0, sizeof l);
    if (s != NULL && s->keys != NULL && k != NULL && dbk_eu_load(s, &l) == DBK_OK) {
        const dbk_eu_entry *e = dbk_plan_current(&l, &s->account, k, NULL);
        const json_t *sec = e != NULL ? json_object_get(e->doc, "sections") : NULL;
        bool any = false;
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
    dbk_crisis_card(out);
}
