/* A client's records as a FHIR R4 Bundle; see fhir.h. */
#include "fhir.h"

#include "counts.h"
#include "measures.h"

#include <stdio.h>
#include <string.h>

#define LOINC "http://loinc.org"
#define UCUM "http://unitsofmeasure.org"

/* 42 CFR 2.32(a)(2): the abbreviated notice that accompanies each disclosure. */
static const char notice[] =
    "42 CFR part 2 prohibits unauthorized use or disclosure of these records.";

/* ---- identifiers and shared parts ---- */

/* A resource id (FHIR: [A-Za-z0-9-.]{1,64}) from 16 id bytes: their hex. */
static void
hex_id(const dbk_id *id, char out[33])
{
    for (size_t i = 0; i < DBK_ID_BYTES; i++)
        snprintf(out + 2 * i, 3, "%02x", id->b[i]);
}

/* urn:uuid: of an id's 16 bytes with the RFC 9562 version (4) and variant bits set. */
static void
urn_of(const dbk_id *id, char out[64])
{
    unsigned char b[16];
    memcpy(b, id->b, 16);
    b[6] = (unsigned char)((b[6] & 0x0f) | 0x40);
    b[8] = (unsigned char)((b[8] & 0x3f) | 0x80);
    snprintf(out, 64,
             "urn:uuid:%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x", b[0],
             b[1], b[2], b[3], b[4], b[5], b[6], b[7], b[8], b[9], b[10], b[11], b[12], b[13],
             b[14], b[15]);
}

static json_t *
security_meta(void)
{
    return json_pack("{s:[{s:s, s:s, s:s}, {s:s, s:s, s:s}]}", "security", "system",
                     "http://terminology.hl7.org/CodeSystem/v3-ActCode", "code", "42CFRPart2",
                     "display", "42 CFR Part2", "system",
                     "http://terminology.hl7.org/CodeSystem/v3-Confidentiality", "code", "R",
                     "display", "restricted");
}

/* A DomainResource's common parts: id, the label, the notice as narrative. */
static json_t *
resource(const char *type, const char *id)
{
    char div[256];
    snprintf(div, sizeof div, "<div xmlns=\"http://www.w3.org/1999/xhtml\"><p>%s</p></div>",
             notice);
    return json_pack("{s:s, s:s, s:o, s:{s:s, s:s}}", "resourceType", type, "id", id, "meta",
                     security_meta(), "text", "status", "generated", "div", div);
}

static json_t *
code(const char *system, const char *c, const char *display)
{
    return json_pack("{s:[{s:s, s:s, s:s}], s:s}", "coding", "system", system, "code", c,
                     "display", display, "text", display);
}

static json_t *
survey_category(void)
{
    return json_pack("[{s:[{s:s, s:s, s:s}]}]", "coding", "system",
                     "http://terminology.hl7.org/CodeSystem/observation-category", "code",
                     "survey", "display", "Survey");
}

/* An Observation about subject at effective (RFC 3339). */
static json_t *
observation(const char *id, const char *subject, json_t *what, const char *effective)
{
    json_t *o = resource("Observation", id);
    json_object_set_new(o, "status", json_string("final"));
    json_object_set_new(o, "category", survey_category());
    json_object_set_new(o, "code", what);
    json_object_set_new(o, "subject", json_pack("{s:s}", "reference", subject));
    json_object_set_new(o, "effectiveDateTime", json_string(effective));
    return o;
}

static void
component(json_t *obs, const char *c, const char *display, const char *key, json_t *value)
{
    json_t *comps = json_object_get(obs, "component");
    if (comps == NULL)
        json_object_set_new(obs, "component", comps = json_array());
    json_t *x = json_pack("{s:o}", "code", code(DBK_FHIR_SYSTEM, c, display));
    json_object_set_new(x, key, value);
    json_array_append_new(comps, x);
}

static json_t *
quantity(double v, const char *unit, const char *ucum)
{
    return json_pack("{s:f, s:s, s:s, s:s}", "value", v, "unit", unit, "system", UCUM, "code",
                     ucum);
}

/* ---- one resource per record ---- */

static json_t *
craving_obs(const dbk_eu_entry *e, const char *id, const char *subject)
{
    const char *at = json_string_value(json_object_get(e->doc, "occurred_at"));
    const char *outcome = dbk_eu_outcome(e->doc);
    double v;
    if (at == NULL || !dbk_eu_intensity10(e->doc, &v))
        return NULL;
    json_t *o = observation(id, subject, code(DBK_FHIR_SYSTEM, "craving", "Craving intensity (0-10)"),
                            at);
    json_object_set_new(o, "valueQuantity",
                        json_pack("{s:f, s:s, s:s, s:s}", "value", v, "unit", "score", "system",
                                  UCUM, "code", "{score}"));
    if (outcome != NULL)
        component(o, "craving-outcome", "Outcome of the craving", "valueString",
                  json_string(outcome));
    json_t *d = json_object_get(json_object_get(e->doc, "duration"), "minutes");
    if (json_is_integer(d))
        component(o, "craving-duration", "How long the craving lasted", "valueQuantity",
                  quantity((double)json_integer_value(d), "min", "min"));
    return o;
}

static json_t *
checkin_obs(const dbk_eu_entry *e, const char *id, const char *subject)
{
    const char *date = json_string_value(json_object_get(e->doc, "date"));
    json_t *v;
    if (date == NULL)
        return NULL;
    json_t *o = observation(id, subject, code(DBK_FHIR_SYSTEM, "daily-checkin", "Daily check-in"),
                            date);
    component(o, "substance-use", "Any substance use that day", "valueBoolean",
              json_boolean(json_is_true(json_object_get(json_object_get(e->doc, "use"), "any"))));
    if (json_is_string(v = json_object_get(json_object_get(e->doc, "use"), "substance")))
        component(o, "substance", "What was used", "valueString",
                  json_string(json_string_value(v)));
    if (json_is_integer(v = json_object_get(e->doc, "mood")))
        component(o, "mood", "Mood (0-10)", "valueInteger", json_integer(json_integer_value(v)));
    if (json_is_integer(v = json_object_get(e->doc, "craving_peak")))
        component(o, "craving-peak", "Strongest craving that day (0-10)", "valueInteger",
                  json_integer(json_integer_value(v)));
    if (json_is_string(v = json_object_get(e->doc, "medication")))
        component(o, "medication-adherence", "Prescribed medication that day", "valueString",
                  json_string(json_string_value(v)));
    if (json_is_number(v = json_object_get(e->doc, "sleep_hours")))
        component(o, "sleep", "Hours slept", "valueQuantity",
                  quantity(json_number_value(v), "h", "h"));
    if (json_is_true(json_object_get(e->doc, "recalled")))
        component(o, "recalled", "Filled in after the day (Timeline Followback)", "valueBoolean",
                  json_true());
    return o;
}

/* The QuestionnaireResponse of a measure; *total_out gets its total-score Observation
 * (PHQ-9, GAD-7) or NULL. */
static json_t *
measure_qr(const dbk_eu_entry *e, const char *id, const char *subject, const char *urn,
           json_t **total_out)
{
    const char *instrument = json_string_value(json_object_get(e->doc, "instrument"));
    const dbk_measure *m = instrument != NULL ? dbk_measure_find(instrument) : NULL;
    const char *at = json_string_value(json_object_get(e->doc, "answered_at"));
    json_t *answers = json_object_get(e->doc, "answers"), *items = json_array();
    int a[DBK_MEASURE_ITEMS_MAX];
    dbk_measure_score sc;

    *total_out = NULL;
    if (m == NULL || at == NULL) {
        json_decref(items);
        return NULL;
    }
    for (size_t i = 0; i < m->nitems; i++) {
        json_t *v = json_object_get(answers, m->items[i].id);
        a[i] = json_is_integer(v) ? (int)json_integer_value(v) : -1;
        if (a[i] < 0)
            continue;
        json_array_append_new(items, json_pack("{s:s, s:s, s:[{s:i}]}", "linkId", m->items[i].id,
                                               "text", m->items[i].text, "answer",
                                               "valueInteger", a[i]));
    }
    json_t *qr = resource("QuestionnaireResponse", id);
    json_object_set_new(qr, "status", json_string("completed"));
    if (m->loinc != NULL) {
        char canon[64];
        snprintf(canon, sizeof canon, "http://loinc.org/q/%s", m->loinc);
        json_object_set_new(qr, "questionnaire", json_string(canon));
    }
    json_object_set_new(qr, "subject", json_pack("{s:s}", "reference", subject));
    json_object_set_new(qr, "authored", json_string(at));
    json_object_set_new(qr, "item", items);
    if (m->loinc != NULL && dbk_measure_score_answers(m, a, m->nitems, &sc) && sc.total >= 0) {
        char tid[40];
        snprintf(tid, sizeof tid, "%s-total", id);
        bool phq = strcmp(m->id, "phq9") == 0;
        json_t *o = observation(tid, subject,
                                code(LOINC, phq ? "44261-6" : "70274-6",
                                     phq ? "Patient Health Questionnaire 9 item (PHQ-9) total score"
                                         : "Generalized anxiety disorder 7 item (GAD-7) total score"),
                                at);
        json_object_set_new(o, "valueInteger", json_integer(sc.total));
        json_object_set_new(o, "derivedFrom", json_pack("[{s:s}]", "reference", urn));
        json_object_set_new(o, "interpretation", json_pack("[{s:s}]", "text", sc.band));
        *total_out = o;
    }
    return qr;
}

static void
add_entry(json_t *entries, const char *urn, json_t *res)
{
    json_array_append_new(entries, json_pack("{s:s, s:o}", "fullUrl", urn, "resource", res));
}

json_t *
dbk_fhir_bundle(const dbk_eu_list *l, const dbk_id *owner, const char *generated_at,
                size_t *count)
{
    json_t *entries = json_array();
    char pid[33], purn[64];
    dbk_id patient = {{0}};
    bool have_patient = false;

    *count = 0;
    for (size_t i = 0; i < l->n && !have_patient; i++)
        if (owner != NULL ? dbk_id_equal(&l->v[i].owner, owner) : l->v[i].mine)
            patient = l->v[i].owner, have_patient = true;
    if (owner != NULL)
        patient = *owner;
    hex_id(&patient, pid);
    urn_of(&patient, purn);
    add_entry(entries, purn, resource("Patient", pid));

    for (size_t i = 0; i < l->n; i++) {
        const dbk_eu_entry *e = &l->v[i];
        char id[33], urn[64];
        json_t *res = NULL, *extra = NULL;
        if (owner != NULL ? !dbk_id_equal(&e->owner, owner) : !e->mine)
            continue;
        hex_id(&e->hdr.record, id);
        urn_of(&e->hdr.record, urn);
        if (strcmp(e->type, "craving") == 0)
            res = craving_obs(e, id, purn);
        else if (strcmp(e->type, "checkin") == 0)
            res = checkin_obs(e, id, purn);
        else if (strcmp(e->type, "measure") == 0)
            res = measure_qr(e, id, purn, urn, &extra);
        if (res == NULL)
            continue;
        add_entry(entries, urn, res);
        if (extra != NULL) { /* the total score: the record's id with its last byte flipped */
            dbk_id sibling = e->hdr.record;
            char xurn[64];
            sibling.b[DBK_ID_BYTES - 1] ^= 0xff;
            urn_of(&sibling, xurn);
            add_entry(entries, xurn, extra);
        }
        (*count)++;
    }
    return json_pack("{s:s, s:o, s:s, s:s, s:o}", "resourceType", "Bundle", "meta",
                     security_meta(), "type", "collection", "timestamp", generated_at, "entry",
                     entries);
}
