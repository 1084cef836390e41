/* The crisis card; the numbers are the ones in DOMAIN.md and never need a network. */
#include "crisis.h"

#include <stdlib.h>

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
