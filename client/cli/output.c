/* Output helpers; see output.h. */
#include "output.h"

#include <sodium.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

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

void
dbk_out_freshness(FILE *out, const json_t *fresh, bool color)
{
    const char *at = json_string_value(json_object_get(fresh, "as_of"));
    bool offline = json_is_true(json_object_get(fresh, "offline")),
         stale = json_is_true(json_object_get(fresh, "stale"));
    if (!offline && !stale) {
        fprintf(out, "Data as of %s (the last successful sync).\n", at ? at : "never");
        return;
    }
    fprintf(out, "%s!! Data as of %s%s%s\n", color ? "\033[1;31m" : "", at ? at : "never",
            offline ? ": OFFLINE, the server was not reached (or --offline)" : ": STALE",
            color ? "\033[0m" : "");
    fprintf(out, "   What clients sent since then is not shown. Run 'daybook sync' when online.\n");
}

int
dbk_out_columns(void)
{
    struct winsize ws;
    if (isatty(STDOUT_FILENO) && ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 0)
        return ws.ws_col;
    return 80;
}
