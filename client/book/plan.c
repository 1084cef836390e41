/* The relapse-prevention plan and the safety plan; see plan.h. */
#include "plan.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ITEM_MAX 2000 /* characters in one line of a plan */

static const dbk_plan_section safety_sections[] = {
    {"warning_signs", "Warning signs that a crisis may be developing"},
    {"internal_coping", "Things I can do on my own to take my mind off my problems"},
    {"social_distractions", "People and social settings that provide distraction"},
    {"help_contacts", "People I can ask for help"},
    {"professionals", "Professionals or agencies I can contact during a crisis"},
    {"safe_environment", "Making the environment safe"},
    {"reasons_for_living", "The things that are most important to me and worth living for"},
};

static const dbk_plan_section relapse_sections[] = {
    {"warning_signs", "Warning signs of a relapse"},
    {"internal_triggers", "Internal triggers (feelings, thoughts, HALT)"},
    {"external_triggers", "External triggers (people, places, things, times)"},
    {"high_risk_coping", "What I will do in a high-risk situation"},
    {"avoid", "People, places and things to avoid"},
    {"support_network", "My support network"},
    {"after_a_slip", "If I slip: how I will stop it and get help"},
    {"reasons_for_recovery", "My reasons for recovery"},
};

static const dbk_plan_kind kinds[] = {
    {"safety", "Safety plan", sizeof safety_sections / sizeof safety_sections[0],
     safety_sections},
    {"relapse_prevention", "Relapse-prevention plan",
     sizeof relapse_sections / sizeof relapse_sections[0], relapse_sections},
};

const dbk_plan_kind *
dbk_plan_kind_find(const char *id)
{
    if (strcmp(id, "relapse") == 0)
        id = "relapse_prevention";
    for (size_t i = 0; i < sizeof kinds / sizeof kinds[0]; i++)
        if (strcmp(kinds[i].id, id) == 0)
            return &kinds[i];
    return NULL;
}

const dbk_plan_section *
dbk_plan_section_find(const dbk_plan_kind *k, const char *key)
{
    for (size_t i = 0; i < k->nsections; i++)
        if (strcmp(k->sections[i].key, key) == 0 || strcmp(k->sections[i].heading, key) == 0)
            return &k->sections[i];
    return NULL;
}

const dbk_eu_entry *
dbk_plan_current(const dbk_eu_list *l, const dbk_id *owner, const dbk_plan_kind *k,
                 const dbk_id *author)
{
    const dbk_eu_entry *best = NULL;
    for (size_t i = 0; i < l->n; i++) { /* oldest clock first: the last match is newest */
        const dbk_eu_entry *e = &l->v[i];
        const char *kind = json_string_value(json_object_get(e->doc, "kind"));
        if (strcmp(e->type, "plan") != 0 || kind == NULL || strcmp(kind, k->id) != 0 ||
            !dbk_id_equal(&e->owner, owner) ||
            (author != NULL && !dbk_id_equal(&e->hdr.author, author)))
            continue;
        best = e;
    }
    return best;
}

/* Trims spaces and a leading "- " or "* " off line (in place); returns the start. */
static char *
trim_item(char *line)
{
    size_t n = strlen(line);
    while (n > 0 && (line[n - 1] == ' ' || line[n - 1] == '\t' || line[n - 1] == '\r'))
        line[--n] = '\0';
    while (*line == ' ' || *line == '\t')
        line++;
    if ((line[0] == '-' || line[0] == '*') && (line[1] == ' ' || line[1] == '\0'))
        line += line[1] ? 2 : 1;
    while (*line == ' ')
        line++;
    return line;
}

json_t *
dbk_plan_parse(const dbk_plan_kind *k, const char *text, char *err, size_t errcap)
{
    json_t *sections = json_object(), *cur = NULL;
    char *copy = strdup(text), *save = NULL, *line;
    if (copy == NULL || sections == NULL) {
        free(copy);
        json_decref(sections);
        snprintf(err, errcap, "out of memory");
        return NULL;
    }
    for (size_t i = 0; i < k->nsections; i++)
        json_object_set_new(sections, k->sections[i].key, json_array());
    /* strtok_r would merge empty lines, which is what we want: they are ignored. */
    for (line = strtok_r(copy, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
        if (strncmp(line, "## ", 3) == 0) {
            char *h = trim_item(line + 3);
            const dbk_plan_section *sec = dbk_plan_section_find(k, h);
            if (sec == NULL) {
                snprintf(err, errcap, "'%.60s' is not a section of the %s", h, k->name);
                free(copy);
                json_decref(sections);
                return NULL;
            }
            cur = json_object_get(sections, sec->key);
            continue;
        }
        if (line[0] == '#')
            continue;
        char *item = trim_item(line);
        if (*item == '\0')
            continue;
        if (cur == NULL || strlen(item) > ITEM_MAX) {
            snprintf(err, errcap,
                     cur == NULL ? "'%.40s' comes before the first '## ' heading"
                                 : "a line of over 2000 characters ('%.40s...')",
                     item);
            free(copy);
            json_decref(sections);
            return NULL;
        }
        json_array_append_new(cur, json_string(item));
    }
    free(copy);
    return sections;
}

char *
dbk_plan_format(const dbk_plan_kind *k, const json_t *sections)
{
    size_t cap = 1024, n = 0;
    char *out = malloc(cap);
    if (out == NULL)
        return NULL;
    n += (size_t)snprintf(out, cap,
                          "# %s. One item per line under each heading; lines starting\n"
                          "# with a single '#' are ignored. Save and close to keep it.\n",
                          k->name);
    for (size_t i = 0; i < k->nsections; i++) {
        json_t *items = json_object_get(sections, k->sections[i].key), *v;
        size_t j, need = strlen(k->sections[i].heading) + 8;
        json_array_foreach(items, j, v)
            need += strlen(json_string_value(v) ? json_string_value(v) : "") + 4;
        if (n + need + 1 > cap) {
            size_t ncap = (n + need + 1) * 2;
            char *no = realloc(out, ncap);
            if (no == NULL) {
                free(out);
                return NULL;
            }
            out = no, cap = ncap;
        }
        n += (size_t)snprintf(out + n, cap - n, "\n## %s\n", k->sections[i].heading);
        json_array_foreach(items, j, v)
            if (json_string_value(v) != NULL)
                n += (size_t)snprintf(out + n, cap - n, "- %s\n", json_string_value(v));
    }
    return out;
}

json_t *
dbk_plan_doc(const dbk_plan_kind *k, json_t *sections, const char *now, const char *tz)
{
    return json_pack("{s:s, s:i, s:s, s:s, s:s, s:O}", "type", "plan", "v", 1, "kind", k->id,
                     "updated_at", now, "tz", tz, "sections", sections);
}
