/* Process-wide start-up. */
#include "dbk/init.h"
#include "dbk/error.h"

#include <sodium.h>

int
dbk_init(void)
{
    /* sodium_init returns 1 when already initialised, which is fine. */
    return sodium_init() < 0 ? DBK_E_INTERNAL : DBK_OK;
}
