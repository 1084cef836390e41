/* The error table's lookups. The table itself lives in dbk/error.h. */
#include "dbk/error.h"

#include <string.h>

struct dbk_err_entry {
    int num;
    const char *code;
    int status;
    const char *message;
};

static const struct dbk_err_entry err_table[] = {
#define DBK_X_ENTRY(name, num, code, status, msg) {num, code, status, msg},
    DBK_ERRORS(DBK_X_ENTRY)
#undef DBK_X_ENTRY
};

static const struct dbk_err_entry *
find(int err)
{
    /* The table is ordered by descending number from 0, so the index is -err. */
    if (err <= 0 && (size_t)-err < sizeof err_table / sizeof err_table[0] &&
        err_table[-err].num == err)
        return &err_table[-err];
    return &err_table[-DBK_E_INTERNAL];
}

const char *
dbk_err_code(int err)
{
    return find(err)->code;
}

int
dbk_err_http_status(int err)
{
    return find(err)->status;
}

const char *
dbk_err_message(int err)
{
    return find(err)->message;
}

int
dbk_err_from_code(const char *code)
{
    if (code == NULL)
        return DBK_E_INTERNAL;
    for (size_t i = 0; i < sizeof err_table / sizeof err_table[0]; i++)
        if (strcmp(err_table[i].code, code) == 0)
            return err_table[i].num;
    return DBK_E_INTERNAL;
}
