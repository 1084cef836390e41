/* Output helpers; see output.h. */
#include "output.h"

#include <qrencode.h>
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

/* Prints text after a label, wrapped at 76 columns with a hanging indent. */
static void
para(FILE *out, const char *label, const char *text)
{
    size_t col = 0, indent = 4;
    const char *p = text ? text : "";

    fprintf(out, "  %s\n    ", label);
    col = indent;
    while (*p != '\0') {
        size_t w = strcspn(p, " \n");
        if (col > indent && col + w > 76) {
            fprintf(out, "\n    ");
            col = indent;
        }
        fwrite(p, 1, w, out);
        col += w;
        p += w;
        while (*p == ' ' || *p == '\n') {
            if (col > indent) {
                fputc(' ', out);
                col++;
            }
            p++;
        }
    }
    fputc('\n', out);
}

void
dbk_out_consent(FILE *out, const json_t *doc)
{
    const json_t *by = json_object_get(doc, "disclosed_by"), *x = json_object_get(doc, "expires");
    const json_t *rec = json_object_get(doc, "recipient"), *v;
    const char *org = json_string_value(json_object_get(rec, "organization"));
    const char *date = json_string_value(json_object_get(x, "date"));
    const char *event = json_string_value(json_object_get(x, "event"));
    char who[512] = "", to[512], until[600];
    size_t i;

    json_array_foreach(by, i, v) {
        size_t n = strlen(who);
        snprintf(who + n, sizeof who - n, "%s%s", n ? "; " : "",
                 json_string_value(json_object_get(v, "name")));
    }
    snprintf(to, sizeof to, "%s%s%s%s", json_string_value(json_object_get(rec, "name")),
             org ? " (" : "", org ? org : "", org ? ")" : "");
    if (date != NULL && event != NULL)
        snprintf(until, sizeof until, "%s, or %s, whichever comes first", date, event);
    else
        snprintf(until, sizeof until, "%s", date ? date : event ? event : "");
    fprintf(out, "Consent to share your records (42 CFR part 2, section 2.31)\n\n");
    para(out, "Patient:", json_string_value(json_object_get(json_object_get(doc, "patient"),
                                                           "name")));
    para(out, "Who discloses:", who);
    para(out, "To whom:", to);
    para(out, "Purpose:", json_string_value(json_object_get(doc, "purpose")));
    para(out, "What is disclosed:",
         json_string_value(json_object_get(json_object_get(doc, "information"), "description")));
    para(out, "Until:", until);
    para(out, "How to revoke:", json_string_value(json_object_get(doc, "right_to_revoke")));
    para(out, "Notice to the recipient (section 2.32):",
         json_string_value(json_object_get(doc, "redisclosure_notice")));
    json_array_foreach(json_object_get(doc, "other_statements"), i, v)
        para(out, "Also:", json_string_value(v));
    para(out, "Signed:", json_string_value(json_object_get(doc, "signed_at")));
}

/*
 * Prints text as a QR code (error correction M, byte mode, as proto/README.md 4.2
 * says) with Unicode half blocks: two modules per character cell, a quiet zone of
 * four modules, dark on light.
 */
void
dbk_out_qr(FILE *out, const char *text)
{
    QRcode *q = QRcode_encodeString8bit(text, 0, QR_ECLEVEL_M);
    const int quiet = 4;
    if (q == NULL)
        return;
    int n = q->width + 2 * quiet;
    for (int y = 0; y < n; y += 2) {
        fputs("  ", out);
        for (int x = 0; x < n; x++) {
            int mx = x - quiet, top = y - quiet, bot = y + 1 - quiet;
            bool t = mx >= 0 && mx < q->width && top >= 0 && top < q->width &&
                     (q->data[top * q->width + mx] & 1);
            bool b = mx >= 0 && mx < q->width && bot >= 0 && bot < q->width &&
                     (q->data[bot * q->width + mx] & 1);
            /* Light background: a dark module is drawn as the absence of the block. */
            fputs(t && b ? " " : t ? "\u2584" : b ? "\u2580" : "\u2588", out);
        }
        fputc('\n', out);
    }
    QRcode_free(q);
}
