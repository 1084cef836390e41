/* Output helpers; see output.h. */
#include "output.h"

#include <sodium.h>
#include <stdlib.h>
#include <string.h>

void
dbk_out_warn_unopened(const dbk_eu_list *l)
{
    if (l->bad > 0)
        fprintf(stderr, "daybook: %zu entries could not be opened (damaged or from an unknown "
                        "key) and are left out\n",
                l->bad);
}

void
dbk_out_json(FILE *out, const json_t *j)
{
    char *text = json_dumps(j, JSON_COMPACT);
    fprintf(out, "%s\n", text ? text : "null");
    dbk_eu_wipe_free(text);
}
