/* The consent document of a grant; see consent.h. */
#include "consent.h"
#include "daycount.h"
#include "entries.h"
#include "entry.h"

#include "dbk/error.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static const char *const def_information =
    "My craving records, daily check-ins, questionnaire answers (PHQ-9, GAD-7, BAM), "
    "medication doses, my safety and relapse-prevention plans, the journal entries I mark "
    "as shared, and my coping-skills checklist: everything in my shared stream in Daybook. "
    "My private entries are not included.";
static const char *const def_purpose =
    "So my counselor can review my between-session records for my treatment in the "
    "program.";
static const char *const def_revoke =
    "I may revoke this consent at any time, in writing or with 'daybook revoke' in Daybook; "
    "from then on my counselor receives nothing new. What was already disclosed stays "
    "disclosed.";
static const char *const def_event = "my discharge from the program";
static const char *const def_notice =
    "42 CFR part 2 prohibits unauthorized use or disclosure of these records.";

static const char *
str_or(const json_t *tmpl, const char *key, const char *dflt)
{
    const char *v = json_string_value(json_object_get(tmpl, key));
    return v != NULL && v[0] != '\0' ? v : dflt;
}

static json_t *
idj(const dbk_id *id)
{
    char t[DBK_ID_TEXT_LEN + 1];
    dbk_id_to_text(id, t);
    return json_string(t);
}

int64_t
dbk_consent_end_ms(const char *date)
{
    /* The grant ends when the expiry date's last local day does: local midnight after it. */
    struct tm tm = {0};
    int64_t day;
    if (date == NULL || !dbk_day_parse(date, &day))
        return 0;
    tm.tm_year = atoi(date) - 1900;
    tm.tm_mon = atoi(date + 5) - 1;
    tm.tm_mday = atoi(date + 8) + 1;
    tm.tm_isdst = -1;
    return (int64_t)mktime(&tm) * 1000;
}

json_t *
dbk_consent_build(const json_t *tmpl, const char *patient_name, const dbk_id *patient,
                  const char *recipient_name, const dbk_id *recipient, const dbk_id *stream,
                  int64_t *expires_ms)
{
    json_int_t days = json_integer_value(json_object_get(tmpl, "expires_days"));
    const char *program = str_or(tmpl, "program", NULL);
    char when[40], tz[64], date[11];
    int64_t end;
    json_t *doc, *by, *other;

    if (days < 1 || days > 3650)
        days = DBK_CONSENT_DEFAULT_DAYS;
    end = dbk_eu_today() + (int64_t)days;
    dbk_day_format(end, date);
    *expires_ms = dbk_consent_end_ms(date);

    dbk_now_rfc3339(when);
    dbk_local_tz(tz, sizeof tz);
    by = json_pack("[{s:s, s:s, s:o}]", "kind", "client", "name", patient_name, "account_id",
                   idj(patient));
    if (program != NULL)
        json_array_append_new(by, json_pack("{s:s, s:s}", "kind", "program", "name", program));
    doc = json_pack("{s:s, s:i, s:{s:s, s:o}, s:o, s:{s:s, s:o, s:[s,s,s,s,s,s,s,s,s,s]}, "
                    "s:{s:s, s:o}, "
                    "s:s, s:s, s:{s:s, s:s}, s:s, s:s, s:s}",
                    "type", "consent", "v", 1, "patient", "name", patient_name, "account_id",
                    idj(patient), "disclosed_by", by, "information", "description",
                    str_or(tmpl, "information", def_information), "stream_id", idj(stream),
                    "record_types", "craving", "journal", "checklist_day", "checklist_def",
                    "note", "checkin", "measure", "medication", "dose", "plan", "recipient", "name", recipient_name, "account_id", idj(recipient),
                    "purpose", str_or(tmpl, "purpose", def_purpose), "right_to_revoke",
                    str_or(tmpl, "right_to_revoke", def_revoke), "expires", "date", date,
                    "event", str_or(tmpl, "expires_event", def_event), "signed_at", when, "tz",
                    tz, "redisclosure_notice", str_or(tmpl, "redisclosure_notice", def_notice));
    if (doc != NULL && program != NULL)
        json_object_set_new(json_object_get(doc, "recipient"), "organization",
                            json_string(program));
    other = json_object_get(tmpl, "other_statements");
    if (doc != NULL && json_is_array(other) && json_array_size(other) > 0)
        json_object_set(doc, "other_statements", other);
    return doc;
}

static bool
statement(const json_t *v)
{
    const char *t = json_string_value(v);
    return t != NULL && t[0] != '\0' && strlen(t) <= 4000;
}

int
dbk_consent_check(const json_t *doc, char *missing, size_t cap)
{
    const json_t *p = json_object_get(doc, "patient"), *r = json_object_get(doc, "recipient");
    const json_t *by = json_object_get(doc, "disclosed_by"), *x = json_object_get(doc, "expires");
    const char *what = NULL;

    if (!statement(json_object_get(p, "name")) || !json_is_string(json_object_get(p, "account_id")))
        what = "patient";
    else if (!json_is_array(by) || json_array_size(by) == 0 ||
             !statement(json_object_get(json_array_get(by, 0), "name")))
        what = "disclosed_by";
    else if (!statement(json_object_get(json_object_get(doc, "information"), "description")))
        what = "information";
    else if (!statement(json_object_get(r, "name")) ||
             !json_is_string(json_object_get(r, "account_id")))
        what = "recipient";
    else if (!statement(json_object_get(doc, "purpose")))
        what = "purpose";
    else if (!statement(json_object_get(doc, "right_to_revoke")))
        what = "right_to_revoke";
    else if (!statement(json_object_get(x, "date")) && !statement(json_object_get(x, "event")))
        what = "expires";
    else if (!json_is_string(json_object_get(doc, "signed_at")))
        what = "signed_at";
    else if (!statement(json_object_get(doc, "redisclosure_notice")))
        what = "redisclosure_notice";
    if (what == NULL)
        return DBK_OK;
    snprintf(missing, cap, "%s", what);
    return DBK_E_INVALID;
}
