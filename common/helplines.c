/* The clinic's help lines: check, parse, short hash; see dbk/helplines.h. */
#include "dbk/helplines.h"

#include "dbk/base64.h"
#include "dbk/error.h"

#include <sodium.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

static const char domain[] = "daybook/v1/help-lines"; /* hashed with its NUL */

/* A number as people dial it: digits, and the separators phones print. */
static bool
number_ok(const char *s, size_t n)
{
    bool digit = false;
    if (n < 1 || n > DBK_HELP_NUMBER_MAX)
        return false;
    for (size_t i = 0; i < n; i++) {
        if (s[i] >= '0' && s[i] <= '9')
            digit = true;
        else if (strchr(" +-()./", s[i]) == NULL || s[i] == '\0')
            return false;
    }
    return digit;
}

/* A label: UTF-8 (jansson checked it) without C0, DEL or C1 controls, which could
 * move the cursor or recolour the card on the client's terminal. */
static bool
label_ok(const char *s, size_t n)
{
    if (n < 1 || n > DBK_HELP_LABEL_MAX)
        return false;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c < 0x20 || c == 0x7f)
            return false;
        if (c == 0xc2 && i + 1 < n && (unsigned char)s[i + 1] >= 0x80 &&
            (unsigned char)s[i + 1] <= 0x9f)
            return false;
    }
    return true;
}

int
dbk_help_lines_check(const json_t *lines, char *why, size_t cap)
{
    size_t i;
    const json_t *x;

    if (!json_is_array(lines) || json_array_size(lines) > DBK_HELP_LINES_MAX) {
        snprintf(why, cap, "at most %d help lines", DBK_HELP_LINES_MAX);
        return DBK_E_INVALID;
    }
    json_array_foreach(lines, i, x) {
        const json_t *num = json_object_get(x, "number"), *lab = json_object_get(x, "label");
        if (!json_is_object(x) || json_object_size(x) != 2 || !json_is_string(num) ||
            !json_is_string(lab)) {
            snprintf(why, cap, "help line %zu: wants exactly a number and a label", i + 1);
            return DBK_E_INVALID;
        }
        if (!number_ok(json_string_value(num), json_string_length(num))) {
            snprintf(why, cap,
                     "help line %zu: the number wants 1 to %d digits, spaces or +-()./",
                     i + 1, DBK_HELP_NUMBER_MAX);
            return DBK_E_INVALID;
        }
        if (!label_ok(json_string_value(lab), json_string_length(lab))) {
            snprintf(why, cap,
                     "help line %zu: the label wants 1 to %d bytes of text, no control "
                     "characters",
                     i + 1, DBK_HELP_LABEL_MAX);
            return DBK_E_INVALID;
        }
    }
    return DBK_OK;
}

int
dbk_help_line_parse(const char *setting, json_t *lines, char *why, size_t cap)
{
    const char *bar = strchr(setting, '|'), *a = setting, *b;
    size_t na, nb;

    if (bar == NULL) {
        snprintf(why, cap, "help-line wants NUMBER | LABEL");
        return DBK_E_INVALID;
    }
    while (*a == ' ' || *a == '\t')
        a++;
    for (na = (size_t)(bar - a); na > 0 && (a[na - 1] == ' ' || a[na - 1] == '\t');)
        na--;
    for (b = bar + 1; *b == ' ' || *b == '\t';)
        b++;
    for (nb = strlen(b); nb > 0 && (b[nb - 1] == ' ' || b[nb - 1] == '\t');)
        nb--;
    json_t *num = json_stringn(a, na), *lab = json_stringn(b, nb);
    if (num == NULL || lab == NULL) { /* not UTF-8 */
        json_decref(num);
        json_decref(lab);
        snprintf(why, cap, "help-line is not UTF-8 text");
        return DBK_E_INVALID;
    }
    json_array_append_new(lines, json_pack("{s:o, s:o}", "number", num, "label", lab));
    if (dbk_help_lines_check(lines, why, cap) != DBK_OK) {
        json_array_remove(lines, json_array_size(lines) - 1);
        return DBK_E_INVALID;
    }
    return DBK_OK;
}

int
dbk_help_lines_hash(char out[DBK_HELP_HASH_LEN + 1], const json_t *lines)
{
    crypto_generichash_state st;
    unsigned char h[16], n;
    char why[128];
    size_t i;
    const json_t *x;

    if (dbk_help_lines_check(lines, why, sizeof why) != DBK_OK)
        return DBK_E_INVALID;
    crypto_generichash_init(&st, NULL, 0, sizeof h);
    crypto_generichash_update(&st, (const unsigned char *)domain, sizeof domain);
    n = (unsigned char)json_array_size(lines);
    crypto_generichash_update(&st, &n, 1);
    json_array_foreach(lines, i, x) {
        const char *f[2] = {"number", "label"};
        for (int k = 0; k < 2; k++) {
            const json_t *v = json_object_get(x, f[k]);
            n = (unsigned char)json_string_length(v);
            crypto_generichash_update(&st, &n, 1);
            crypto_generichash_update(&st, (const unsigned char *)json_string_value(v), n);
        }
    }
    crypto_generichash_final(&st, h, sizeof h);
    return dbk_b64_encode(out, DBK_HELP_HASH_LEN + 1, h, sizeof h) == DBK_OK ? DBK_OK
                                                                             : DBK_E_INVALID;
}
