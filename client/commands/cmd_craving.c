/*
 * daybook craving: log a craving (proto/schemas/craving.schema.json), offline.
 * A reported use is recorded plainly and without judgement; after a high
 * craving or a use the crisis card is shown.
 */
#include "backdate.h"
#include "cmd.h"
#include "risk.h"
#include "crisis.h"
#include "entry.h"

#include "dbk/error.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define HIGH_INTENSITY 7 /* on the 0-10 scale: the card is shown at or above this */

static const char *const trigger_kinds[] = {"people", "places", "things", "times", "emotions",
                                            "cues", NULL};

static int
usage(void)
{
    fprintf(stderr,
            "usage: daybook craving --intensity N --outcome resisted|used [options]\n"
            "  (on a terminal, what is missing is asked for)\n"
            "  --intensity N         0-10 (or 1-100 with --scale 1-100)\n"
            "  --outcome R           resisted or used\n"
            "  --used-what TEXT      what was used (with --outcome used)\n"
            "  --trigger KIND:TEXT   KIND is people, places, things, times, emotions or cues\n"
            "  --halt LIST           any of hungry,angry,lonely,tired\n"
            "  --coping SLUG         e.g. urge_surfing, distraction, call_support (repeatable)\n"
            "  --duration MIN        minutes the craving lasted\n"
            "  --substance TEXT      what the craving was for (repeatable)\n"
            "  --situation TEXT, --thoughts TEXT, --feelings TEXT, --note TEXT\n"
            "  --help-contacted      you reached out to someone\n"
            "  --at TIME             when it happened, for a craving logged late: RFC 3339 with\n"
            "                        an offset (2026-11-20T18:40:00-05:00) or YYYY-MM-DD (12:00\n"
            "                        that day); not in the future, at most 365 days ago\n");
    return DBK_EXIT_USAGE;
}

/* Reads one line from the terminal after a prompt; false at end of input. */
static bool
ask(const char *prompt, char *buf, size_t cap)
{
    fputs(prompt, stdout);
    fflush(stdout);
    if (fgets(buf, (int)cap, stdin) == NULL)
        return false;
    buf[strcspn(buf, "\r\n")] = '\0';
    return true;
}

/*
 * On a terminal, asks for what the flags did not give: the two things an entry
 * needs (how strong, and whether one used), then a few optional details. Plain
 * words, no judgement; Enter skips the optional ones.
 */
static bool
prompt_missing(long *intensity, const char **result, json_t *doc, json_t *coping)
{
    static char outcome[16];
    char line[512];

    while (*intensity < 0) {
        if (!ask("How strong is the craving, 0 (none) to 10 (the strongest)? ", line,
                 sizeof line))
            return false;
        char *end;
        long v = strtol(line, &end, 10);
        if (end != line && *end == '\0' && v >= 0 && v <= 10)
            *intensity = v;
    }
    if (ask("What was going on? (where, who, what happened; Enter to skip) ", line,
            sizeof line) &&
        line[0])
        json_object_set_new(doc, "situation", json_string(line));
    if (ask("What did you do to cope? (e.g. urge_surfing, distraction, call_support; "
            "Enter to skip) ",
            line, sizeof line) &&
        line[0])
        for (char *tok = strtok(line, ", "); tok; tok = strtok(NULL, ", "))
            json_array_append_new(coping, json_string(tok));
    while (*result == NULL) {
        if (!ask("Did you use? (n = no, it passed / y = yes) ", line, sizeof line))
            return false;
        if (line[0] == 'n' || line[0] == 'N')
            *result = strcpy(outcome, "resisted");
        else if (line[0] == 'y' || line[0] == 'Y')
            *result = strcpy(outcome, "used");
    }
    return true;
}

static int
run(dbk_ctx *ctx, int argc, char **argv)
{
    static const struct option opts[] = {
        {"intensity", required_argument, NULL, 'i'}, {"scale", required_argument, NULL, 'S'},
        {"outcome", required_argument, NULL, 'o'},   {"used-what", required_argument, NULL, 'u'},
        {"trigger", required_argument, NULL, 't'},   {"halt", required_argument, NULL, 'H'},
        {"coping", required_argument, NULL, 'c'},    {"duration", required_argument, NULL, 'd'},
        {"substance", required_argument, NULL, 'x'}, {"situation", required_argument, NULL, 's'},
        {"thoughts", required_argument, NULL, 'T'},  {"feelings", required_argument, NULL, 'f'},
        {"note", required_argument, NULL, 'n'},      {"help-contacted", no_argument, NULL, 'h'},
        {"at", required_argument, NULL, 'A'},        {NULL, 0, NULL, 0},
    };
    json_t *doc = json_object(), *triggers = json_object(), *coping = json_array(),
           *subst = json_array(), *halt = json_array(), *outcome = NULL;
    const char *scale = "0-10", *result = NULL, *used_what = NULL, *at = NULL;
    long intensity = -1;
    dbk_session s;
    dbk_id id;
    char when[40], tz[64], t[DBK_ID_TEXT_LEN + 1];
    int opt, rc, ret = DBK_EXIT_OK;

    optind = 1;
    while ((opt = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        char *end, *colon;
        switch (opt) {
        case 'i':
            intensity = strtol(optarg, &end, 10);
            if (*end != '\0')
                intensity = -2;
            break;
        case 'S': scale = optarg; break;
        case 'o': result = optarg; break;
        case 'u': used_what = optarg; break;
        case 't':
            colon = strchr(optarg, ':');
            if (colon == NULL)
                goto bad;
            *colon = '\0';
            for (size_t k = 0;; k++) {
                if (trigger_kinds[k] == NULL)
                    goto bad;
                if (strcmp(trigger_kinds[k], optarg) == 0)
                    break;
            }
            if (json_object_get(triggers, optarg) == NULL)
                json_object_set_new(triggers, optarg, json_array());
            json_array_append_new(json_object_get(triggers, optarg), json_string(colon + 1));
            break;
        case 'H':
            for (char *tok = strtok(optarg, ","); tok; tok = strtok(NULL, ",")) {
                if (strcmp(tok, "hungry") && strcmp(tok, "angry") && strcmp(tok, "lonely") &&
                    strcmp(tok, "tired"))
                    goto bad;
                json_array_append_new(halt, json_string(tok));
            }
            break;
        case 'c': json_array_append_new(coping, json_string(optarg)); break;
        case 'x': json_array_append_new(subst, json_string(optarg)); break;
        case 'd': {
            long m = strtol(optarg, &end, 10);
            if (*end != '\0' || m < 0 || m > 10080)
                goto bad;
            json_object_set_new(doc, "duration", json_pack("{s:i}", "minutes", (int)m));
            break;
        }
        case 's': json_object_set_new(doc, "situation", json_string(optarg)); break;
        case 'T': json_object_set_new(doc, "thoughts", json_string(optarg)); break;
        case 'f': json_object_set_new(doc, "feelings", json_string(optarg)); break;
        case 'n': json_object_set_new(doc, "note", json_string(optarg)); break;
        case 'h': json_object_set_new(doc, "help_contacted", json_true()); break;
        case 'A': at = optarg; break;
        default: goto bad;
        }
    }
    if (optind == argc && (result == NULL || intensity < 0) && isatty(STDIN_FILENO) &&
        !prompt_missing(&intensity, &result, doc, coping))
        goto bad;
    if (optind != argc || result == NULL || intensity < 0 ||
        (strcmp(scale, "0-10") == 0 ? intensity > 10
                                    : strcmp(scale, "1-100") != 0 || intensity < 1 ||
                                          intensity > 100) ||
        (strcmp(result, "resisted") != 0 && strcmp(result, "used") != 0))
        goto bad;

    if (at == NULL) {
        dbk_now_rfc3339(when);
    } else if (!dbk_bd_time("--at", at, when)) {
        ret = DBK_EXIT_USAGE;
        goto out;
    }
    dbk_local_tz(tz, sizeof tz);
    outcome = json_pack("{s:s}", "result", result);
    if (strcmp(result, "used") == 0)
        json_object_set_new(outcome, "used",
                            used_what ? json_pack("{s:s}", "substance", used_what) : json_object());
    {
        json_t *base = json_pack("{s:s, s:i, s:s, s:s, s:{s:i, s:s}, s:o}", "type", "craving", "v",
                                 1, "occurred_at", when, "tz", tz, "intensity", "value",
                                 (int)intensity, "scale", scale, "outcome", outcome);
        json_object_update(doc, base);
        json_decref(base);
    }
    if (json_array_size(halt) > 0)
        json_object_set(triggers, "halt", halt);
    if (json_object_size(triggers) > 0)
        json_object_set(doc, "triggers", triggers);
    if (json_array_size(coping) > 0)
        json_object_set(doc, "coping", coping);
    if (json_array_size(subst) > 0)
        json_object_set(doc, "substances", subst);

    if ((rc = dbk_session_open(&s, false)) != DBK_OK) {
        ret = dbk_cmd_no_profile(rc);
        goto out;
    }
    /* The card shows whenever the entry calls for it, saved or not: a lapse, a
     * strong craving, or risk language in what the client wrote. */
    bool hard = strcmp(result, "used") == 0 ||
                (strcmp(scale, "0-10") == 0 ? intensity >= HIGH_INTENSITY : intensity >= 70);
    static const char *const texts[] = {"situation", "thoughts", "feelings", "note"};
    for (size_t k = 0; k < sizeof texts / sizeof *texts; k++)
        hard |= dbk_risk_screen(json_string_value(json_object_get(doc, texts[k])), NULL, NULL);
    rc = dbk_entry_save(&s, DBK_LOCAL_SHARED, NULL, doc, &id);
    dbk_session_close(&s);
    if (rc != DBK_OK) {
        ret = dbk_cmd_fail("the craving was not saved", rc);
        if (hard)
            dbk_crisis_card(stderr);
        goto out;
    }
    dbk_id_to_text(&id, t);
    if (ctx->json) {
        printf("{\"id\":\"%s\",\"saved\":true,\"crisis_card\":%s}\n", t, hard ? "true" : "false");
    } else {
        printf("Saved (%s). It syncs with 'daybook sync' when you are online.\n", t);
        if (hard)
            dbk_crisis_card(stdout);
    }
    goto out;
bad:
    ret = usage();
out:
    json_decref(doc);
    json_decref(triggers);
    json_decref(coping);
    json_decref(subst);
    json_decref(halt);
    return ret;
}

const dbk_cmd dbk_cmd_craving = {
    .name = "craving",
    .usage = "daybook craving --intensity N --outcome resisted|used [--at TIME] [options]",
    .summary = "log a craving: how strong, what set it off, how you coped",
    .run = run,
};
