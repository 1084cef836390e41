/* The consent template's check; see dbk/consent.h. */
#include "dbk/consent.h"
#include "dbk/error.h"

#include <stdbool.h>
#include <stdio.h>
#include <string.h>

static bool
statement(const json_t *v)
{
    const char *t = json_string_value(v);
    return t != NULL && t[0] != '\0' && strlen(t) <= 4000;
}

int
dbk_consent_template_check(const json_t *tmpl, char *why, size_t cap)
{
    static const char *const required[] = {"program", "information", "purpose",
                                           "right_to_revoke", "redisclosure_notice"};
    const json_t *days, *ev, *other, *v;
    const char *k;
    size_t i;

    if (!json_is_object(tmpl)) {
        snprintf(why, cap, "the template is not a JSON object");
        return DBK_E_INVALID;
    }
    for (i = 0; i < sizeof required / sizeof required[0]; i++)
        if (!statement(json_object_get(tmpl, required[i]))) {
            snprintf(why, cap, "'%s' is missing or not 1 to 4000 characters (section 2.31 "
                               "requires it)", required[i]);
            return DBK_E_INVALID;
        }
    days = json_object_get(tmpl, "expires_days");
    ev = json_object_get(tmpl, "expires_event");
    if (days == NULL && ev == NULL) {
        snprintf(why, cap, "neither 'expires_days' nor 'expires_event': section 2.31 requires an "
                           "expiry date or event");
        return DBK_E_INVALID;
    }
    if (days != NULL && (!json_is_integer(days) || json_integer_value(days) < 1 ||
                         json_integer_value(days) > 3650)) {
        snprintf(why, cap, "'expires_days' is a whole number of days, 1 to 3650");
        return DBK_E_INVALID;
    }
    if (ev != NULL && !statement(ev)) {
        snprintf(why, cap, "'expires_event' is 1 to 4000 characters");
        return DBK_E_INVALID;
    }
    other = json_object_get(tmpl, "other_statements");
    if (other != NULL && (!json_is_array(other) || json_array_size(other) > 20)) {
        snprintf(why, cap, "'other_statements' is an array of at most 20 statements");
        return DBK_E_INVALID;
    }
    json_array_foreach(other, i, v) if (!statement(v)) {
        snprintf(why, cap, "'other_statements' item %zu is not 1 to 4000 characters", i + 1);
        return DBK_E_INVALID;
    }
    json_object_foreach((json_t *)tmpl, k, v) {
        static const char *const known[] = {"program", "information", "purpose",
                                            "right_to_revoke", "redisclosure_notice",
                                            "expires_days", "expires_event", "other_statements"};
        bool ok = false;
        for (i = 0; i < sizeof known / sizeof known[0]; i++)
            ok = ok || strcmp(k, known[i]) == 0;
        if (!ok) {
            snprintf(why, cap, "unknown field '%s' (a typo?)", k);
            return DBK_E_INVALID;
        }
    }
    return DBK_OK;
}
