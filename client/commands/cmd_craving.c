/*
 * daybook craving: log a craving (proto/schemas/craving.schema.json), offline.
 * A reported use is recorded plainly and without judgement; after a high
 * craving or a use the crisis card is shown.
 */
#include "backdate.h"
#include "cmd.h"
#include "risk.h"
#include "spool.h"
#include "crisis.h"
#include "draft.h"
#include "prompt.h"
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

static const char help[] =
    "On a terminal, what is missing is asked for.\n"
    "  --intensity N         0-10 (or 1-100 with --scale 1-100)\n"
    "  --outcome R           resisted or used\n"
    "  --used-what TEXT      what was used (with --outcome used)\n"
    "  --trigger KIND:TEXT   KIND is people, places, things, times, emotions or cues\n"
    "  --halt LIST           any of hungry,angry,lonely,tired\n"
    "  --coping SLUG         e.g. urge_surfing, distraction, call_support (repeatable)\n"
    "  --new-coping          accept a --coping strategy of your own\n"
    "  --duration MIN        minutes the craving lasted\n"
    "  --substance TEXT      what the craving was for (repeatable)\n"
    "  --situation TEXT, --thoughts TEXT, --feelings TEXT, --note TEXT\n"
    "  --help-contacted      you reached out to someone\n"
    "  --at TIME             when it happened, for a craving logged late: RFC 3339 with\n"
    "                        an offset (2026-11-20T18:40:00-05:00) or YYYY-MM-DD (12:00\n"
    "                        that day); not in the future, at most 365 days ago\n";

extern const dbk_cmd dbk_cmd_craving;

static int
usage(void)
{
    dbk_cmd_print_help(&dbk_cmd_craving, stderr);
    return DBK_EXIT_USAGE;
}

/* The suggested coping strategies (proto/schemas/README.md), in the pick list's order. */
static const struct {
    const char *slug, *label;
} copings[] = {
    {"distraction", "did something else until the urge passed"},
    {"talk_it_through", "talked it through with someone"},
    {"urge_surfing", "rode the urge like a wave until it passed"},
    {"recall_consequences", "recalled what using costs me"},
    {"self_talk", "talked back to the urge"},
    {"leave_situation", "left or avoided the place or person"},
    {"call_support", "called a support person"},
    {"mindfulness", "mindfulness or relaxation"},
    {"exercise", "exercise"},
    {"disarm", "named the urge and refused it (DISARM)"},
    {"cost_benefit", "weighed the costs and benefits"},
};
#define NCOPINGS (sizeof copings / sizeof copings[0])

static bool
known_coping(const char *slug)
{
    for (size_t i = 0; i < NCOPINGS; i++)
        if (strcmp(copings[i].slug, slug) == 0)
            return true;
    return false;
}

static bool
valid_slug(const char *t)
{
    size_t n = strlen(t);
    if (n < 1 || n > 40)
        return false;
    for (size_t i = 0; i < n; i++)
        if (!((t[i] >= 'a' && t[i] <= 'z') || (t[i] >= '0' && t[i] <= '9') || t[i] == '_'))
            return false;
    return true;
}

/* Adds free text to the craving's note: words a person typed stay whole, in their
 * order, never split into items. */
static void
add_note(json_t *doc, const char *text)
{
    const char *old = json_string_value(json_object_get(doc, "note"));
    char *both;
    size_t n;
    if (text[0] == '\0')
        return;
    if (old == NULL) {
        json_object_set_new(doc, "note", json_string(text));
        return;
    }
    n = strlen(old) + strlen(text) + 3;
    if ((both = malloc(n)) == NULL)
        return;
    snprintf(both, n, "%s; %s", old, text);
    json_object_set_new(doc, "note", json_string(both));
    free(both);
}

/*
 * On a terminal, asks for what the flags did not give: how strong, what set it off
 * (numbered lists of trigger kinds and HALT), how one coped (a numbered list of the
 * suggested strategies), whether one used. A typo asks that question again and says
 * what it takes; words typed instead of numbers become the note, whole. Returns
 * false at end of input.
 */
/* Over 80 lines: one question after another, in the order a person answers them. */
static bool
prompt_missing(long *intensity, const char **result, json_t *doc, json_t *triggers,
               json_t *halt, json_t *coping)
{
    static const char *const kind_labels[] = {"people", "places", "things", "times",
                                              "emotions", "other cues"};
    static const char *const halts[] = {"hungry", "angry", "lonely", "tired"};
    static const char *const outcomes[] = {"it passed: I did not use", "I used"};
    static char outcome[16];
    const char *labels[NCOPINGS];
    bool chosen[NCOPINGS];
    char line[512], other[512];
    int n;

    while (*intensity < 0) {
        char *end;
        long v;
        if (dbk_prompt_line("How strong is the craving, 0 (none) to 10 (the strongest)? ", line,
                            sizeof line) != 0)
            return false;
        v = strtol(line, &end, 10);
        if (end != line && *end == '\0' && v >= 0 && v <= 10)
            *intensity = v;
        else
            printf("Type a whole number from 0 to 10.\n");
    }
    if (dbk_prompt_line("What was going on? (where, who, what happened; Enter to skip) ", line,
                        sizeof line) != 0)
        return false;
    if (line[0])
        json_object_set_new(doc, "situation", json_string(line));
    if (json_object_size(triggers) == 0) {
        if ((n = dbk_prompt_pick("What set it off?", kind_labels, 6, true, chosen, other,
                                 sizeof other)) < 0)
            return false;
        add_note(doc, other);
        for (size_t k = 0; n > 0 && k < 6; k++) {
            char q[96];
            if (!chosen[k])
                continue;
            snprintf(q, sizeof q, "Which %s? (a few words; Enter to skip) ", kind_labels[k]);
            if (dbk_prompt_line(q, line, sizeof line) != 0)
                return false;
            if (line[0] == '\0')
                continue;
            json_t *arr = json_object_get(triggers, trigger_kinds[k]);
            if (arr == NULL)
                json_object_set_new(triggers, trigger_kinds[k], arr = json_array());
            json_array_append_new(arr, json_string(line));
        }
    }
    if (json_array_size(halt) == 0) {
        if ((n = dbk_prompt_pick("Were you any of these? (HALT)", halts, 4, true, chosen, NULL,
                                 0)) < 0)
            return false;
        for (size_t k = 0; k < 4; k++)
            if (n > 0 && chosen[k])
                json_array_append_new(halt, json_string(halts[k]));
    }
    if (json_array_size(coping) == 0) {
        for (size_t k = 0; k < NCOPINGS; k++)
            labels[k] = copings[k].label;
        if ((n = dbk_prompt_pick("What did you do to cope?", labels, NCOPINGS, true, chosen,
                                 other, sizeof other)) < 0)
            return false;
        add_note(doc, other); /* "called my sponsor" stays those words, in the note */
        for (size_t k = 0; n > 0 && k < NCOPINGS; k++)
            if (chosen[k])
                json_array_append_new(coping, json_string(copings[k].slug));
    }
    while (*result == NULL) {
        if ((n = dbk_prompt_pick("How did it end?", outcomes, 2, false, chosen, NULL, 0)) < 0)
            return false;
        if (n == 1)
            *result = strcpy(outcome, chosen[0] ? "resisted" : "used");
        else
            printf("Pick 1 or 2.\n");
    }
    return true;
}

/* What was typed: the entry's free fields go straight into doc; the rest is
 * checked and assembled by check_craving and build_craving. */
struct craving {
    json_t *doc, *triggers, *coping, *subst, *halt;
    bool new_coping;
    const char *scale, *result, *used_what, *at;
    long intensity;
};

static void
craving_clear(struct craving *c)
{
    json_decref(c->doc);
    json_decref(c->triggers);
    json_decref(c->coping);
    json_decref(c->subst);
    json_decref(c->halt);
}

/* --trigger KIND:TEXT into c->triggers; false (after saying why) for a bad one. */
static bool
parse_trigger(struct craving *c, char *arg)
{
    char *colon = strchr(arg, ':');
    for (size_t k = 0; colon != NULL; k++) {
        if (trigger_kinds[k] == NULL) {
            colon = NULL;
            break;
        }
        if (strncmp(trigger_kinds[k], arg, (size_t)(colon - arg)) == 0 &&
            trigger_kinds[k][colon - arg] == '\0')
            break;
    }
    if (colon == NULL || colon[1] == '\0') {
        fprintf(stderr, "daybook: --trigger is KIND:TEXT, KIND one of people, places, "
                        "things, times, emotions, cues (e.g. --trigger 'places:the bar'); "
                        "got '%s'\n", arg);
        return false;
    }
    *colon = '\0';
    if (json_object_get(c->triggers, arg) == NULL)
        json_object_set_new(c->triggers, arg, json_array());
    json_array_append_new(json_object_get(c->triggers, arg), json_string(colon + 1));
    return true;
}

/* --halt LIST into c->halt; false (after saying why) for a word not of HALT. */
static bool
parse_halt(struct craving *c, char *arg)
{
    for (char *tok = strtok(arg, ","); tok; tok = strtok(NULL, ",")) {
        if (strcmp(tok, "hungry") && strcmp(tok, "angry") && strcmp(tok, "lonely") &&
            strcmp(tok, "tired")) {
            fprintf(stderr, "daybook: --halt takes hungry, angry, lonely, tired "
                            "(comma-separated); got '%s'\n", tok);
            return false;
        }
        json_array_append_new(c->halt, json_string(tok));
    }
    return true;
}

/* The flags into c: DBK_EXIT_OK, DBK_EXIT_USAGE after a message naming the flag, or
 * -1 for a flag not known (the caller prints the usage). */
static int
parse_craving(struct craving *c, int argc, char **argv)
{
    static const struct option opts[] = {
        {"intensity", required_argument, NULL, 'i'}, {"scale", required_argument, NULL, 'S'},
        {"outcome", required_argument, NULL, 'o'},   {"used-what", required_argument, NULL, 'u'},
        {"trigger", required_argument, NULL, 't'},   {"halt", required_argument, NULL, 'H'},
        {"coping", required_argument, NULL, 'c'},    {"duration", required_argument, NULL, 'd'},
        {"substance", required_argument, NULL, 'x'}, {"situation", required_argument, NULL, 's'},
        {"new-coping", no_argument, NULL, 'N'},
        {"thoughts", required_argument, NULL, 'T'},  {"feelings", required_argument, NULL, 'f'},
        {"note", required_argument, NULL, 'n'},      {"help-contacted", no_argument, NULL, 'h'},
        {"at", required_argument, NULL, 'A'},        {NULL, 0, NULL, 0},
    };
    int opt;

    optind = 1;
    while ((opt = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        char *end;
        switch (opt) {
        case 'i':
            c->intensity = strtol(optarg, &end, 10);
            if (*end != '\0' || end == optarg || c->intensity < 0) {
                fprintf(stderr, "daybook: --intensity is a whole number, 0 to 10 (1 to 100 with "
                                "--scale 1-100); got '%s'\n", optarg);
                return DBK_EXIT_USAGE;
            }
            break;
        case 'N': c->new_coping = true; break;
        case 'S': c->scale = optarg; break;
        case 'o': c->result = optarg; break;
        case 'u': c->used_what = optarg; break;
        case 't':
            if (!parse_trigger(c, optarg))
                return DBK_EXIT_USAGE;
            break;
        case 'H':
            if (!parse_halt(c, optarg))
                return DBK_EXIT_USAGE;
            break;
        case 'c': json_array_append_new(c->coping, json_string(optarg)); break;
        case 'x': json_array_append_new(c->subst, json_string(optarg)); break;
        case 'd': {
            long m = strtol(optarg, &end, 10);
            if (*end != '\0' || end == optarg || m < 0 || m > 10080) {
                fprintf(stderr, "daybook: --duration is minutes, 0 to 10080 (a week); got "
                                "'%s'\n", optarg);
                return DBK_EXIT_USAGE;
            }
            json_object_set_new(c->doc, "duration", json_pack("{s:i}", "minutes", (int)m));
            break;
        }
        case 's': json_object_set_new(c->doc, "situation", json_string(optarg)); break;
        case 'T': json_object_set_new(c->doc, "thoughts", json_string(optarg)); break;
        case 'f': json_object_set_new(c->doc, "feelings", json_string(optarg)); break;
        case 'n': json_object_set_new(c->doc, "note", json_string(optarg)); break;
        case 'h': json_object_set_new(c->doc, "help_contacted", json_true()); break;
        case 'A': c->at = optarg; break;
        default: return -1;
        }
    }
    return DBK_EXIT_OK;
}

/* A coping strategy is one of the suggested ones, or a new one said so. */
static bool
check_coping(const struct craving *c)
{
    size_t k;
    json_t *v;
    json_array_foreach(c->coping, k, v) {
        const char *s = json_string_value(v);
        if (!valid_slug(s)) {
            fprintf(stderr, "daybook: --coping '%s': a strategy is one word of a-z, 0-9 "
                            "and _ (e.g. call_support); say more with --note\n", s);
            return false;
        }
        if (!known_coping(s) && !c->new_coping) {
            fprintf(stderr, "daybook: --coping '%s' is not one of Daybook's strategies:", s);
            for (size_t i = 0; i < NCOPINGS; i++)
                fprintf(stderr, "%s %s", i ? "," : "", copings[i].slug);
            fprintf(stderr, ".\nAdd --new-coping to keep '%s' as your own.\n", s);
            return false;
        }
    }
    return true;
}

/* The values the flags gave, each against what it allows; false after a message. */
static bool
check_craving(const struct craving *c)
{
    bool ten = strcmp(c->scale, "0-10") == 0;
    if (!ten && strcmp(c->scale, "1-100") != 0) {
        fprintf(stderr, "daybook: --scale is 0-10 or 1-100; got '%s'\n", c->scale);
        return false;
    }
    if (c->result != NULL && strcmp(c->result, "resisted") != 0 &&
        strcmp(c->result, "used") != 0) {
        fprintf(stderr, "daybook: --outcome is resisted (it passed) or used; got '%s'\n",
                c->result);
        return false;
    }
    if (c->intensity >= 0 &&
        (ten ? c->intensity > 10 : c->intensity < 1 || c->intensity > 100)) {
        fprintf(stderr, "daybook: --intensity on the %s scale is %s; got %ld\n", c->scale,
                ten ? "0 to 10" : "1 to 100", c->intensity);
        return false;
    }
    return check_coping(c);
}

/* The craving record (craving.schema.json) from what was typed and asked, in c->doc. */
static void
build_craving(struct craving *c, const char *when)
{
    char tz[64];
    json_t *outcome, *base;

    dbk_local_tz(tz, sizeof tz);
    outcome = json_pack("{s:s}", "result", c->result);
    if (strcmp(c->result, "used") == 0)
        json_object_set_new(outcome, "used",
                            c->used_what ? json_pack("{s:s}", "substance", c->used_what)
                                         : json_object());
    base = json_pack("{s:s, s:i, s:s, s:s, s:{s:i, s:s}, s:o}", "type", "craving", "v", 1,
                     "occurred_at", when, "tz", tz, "intensity", "value", (int)c->intensity,
                     "scale", c->scale, "outcome", outcome);
    json_object_update(c->doc, base);
    json_decref(base);
    if (json_array_size(c->halt) > 0)
        json_object_set(c->triggers, "halt", c->halt);
    if (json_object_size(c->triggers) > 0)
        json_object_set(c->doc, "triggers", c->triggers);
    if (json_array_size(c->coping) > 0)
        json_object_set(c->doc, "coping", c->coping);
    if (json_array_size(c->subst) > 0)
        json_object_set(c->doc, "substances", c->subst);
}

/* The card shows whenever the entry calls for it, saved or not: a lapse, a
 * strong craving, or risk language in what the client wrote. */
static bool
calls_for_card(const struct craving *c)
{
    static const char *const texts[] = {"situation", "thoughts", "feelings", "note"};
    bool hard = strcmp(c->result, "used") == 0 ||
                (strcmp(c->scale, "0-10") == 0 ? c->intensity >= HIGH_INTENSITY
                                               : c->intensity >= 70);
    for (size_t k = 0; k < sizeof texts / sizeof *texts; k++)
        hard |= dbk_risk_screen(json_string_value(json_object_get(c->doc, texts[k])), NULL,
                                NULL);
    return hard;
}

/* Says a craving saved, by either path; card: the crisis card follows (text) or is
 * said to (JSON). */
static void
say_saved(const dbk_ctx *ctx, const dbk_id *id, bool card)
{
    char t[DBK_ID_TEXT_LEN + 1];
    dbk_id_to_text(id, t);
    if (ctx->json)
        printf("{\"id\":\"%s\",\"saved\":true,\"crisis_card\":%s}\n", t, card ? "true" : "false");
    else
        printf("Saved (%s). It syncs with 'daybook sync' when you are online.\n", t);
}

/* Saves the craving and says so (with the card when it calls for one); the exit code. */
static int
save_craving(dbk_ctx *ctx, dbk_session *s, const struct craving *c)
{
    bool hard = calls_for_card(c);
    dbk_id id;
    int rc = dbk_entry_save(s, DBK_LOCAL_SHARED, NULL, c->doc, &id);

    if (rc == DBK_OK) {
        (void)dbk_draft_remember_pk(s);
        dbk_prompt_drafts_saved(s);
        /* The keys are open: cravings spooled earlier join the profile, and the spool's
         * header is made or kept current for the next craving (spool.h). */
        (void)dbk_spool_fold(s, NULL);
    }
    if (rc != DBK_OK) {
        int ret = dbk_cmd_fail("the craving was not saved", rc);
        /* A failed save is still a save: what was typed is kept sealed. */
        if (rc == DBK_E_PASSPHRASE)
            (void)dbk_prompt_keep_draft(s, DBK_LOCAL_SHARED, c->doc, "craving");
        if (hard)
            dbk_crisis_card_for(stderr, s);
        return ret;
    }
    say_saved(ctx, &id, hard);
    if (hard && !ctx->json)
        dbk_crisis_card_for(stdout, s);
    return DBK_EXIT_OK;
}

/* The spool let go of when it is still held (held): false. The one place the craving
 * closes what dbk_spool_take opened, spooled or not. */
static bool
let_go(dbk_spool_file *f, bool held)
{
    if (held)
        dbk_spool_file_close(f);
    return false;
}

/*
 * Spools the craving (book/spool.h) without opening the profile: true once it is durable
 * and said (the spool let go of first, *held false: a fold waits on its lock, and a
 * terminal or pipe that blocks the message must not hold it), *ret the exit code; false when the
 * spool cannot take it (its header missing or not a client's, the keys not cached, full), and the
 * caller saves it in the profile. A craving that calls for the crisis card is not spooled: the card
 * reads the plan from the profile.
 */
static bool
spooled(dbk_ctx *ctx, dbk_spool_file *f, bool *held, const struct craving *c, int *ret)
{
    dbk_id id;
    int rc = dbk_spool_add(f, DBK_LOCAL_SHARED, c->doc, &id);

    if (rc == DBK_OK || rc == DBK_E_INTERNAL)
        *held = let_go(f, *held);
    if (rc == DBK_E_INTERNAL) {
        /* Written but neither synced nor cut back: a later fold may still find it. */
        *ret = dbk_cmd_fail("the craving may not have been saved (check 'daybook log' "
                            "before you log it again)",
                            DBK_E_IO);
        return true;
    }
    if (rc != DBK_OK)
        return false;
    say_saved(ctx, &id, false); /* a craving that calls for the card is never spooled */
    *ret = DBK_EXIT_OK;
    return true;
}

/* Opens the profile and refuses a counselor's: DBK_EXIT_OK with *opened, or the exit
 * code after saying why (a profile that does not open is said by the caller). */
static int
open_checked(dbk_session *s, int *open_rc, bool *opened)
{
    *open_rc = dbk_session_open(s, false);
    *opened = *open_rc == DBK_OK;
    return *opened ? dbk_cmd_role_ok(&dbk_cmd_craving, s) : DBK_EXIT_OK;
}

static int
run(dbk_ctx *ctx, int argc, char **argv)
{
    struct craving c = {.doc = json_object(), .triggers = json_object(), .coping = json_array(),
                        .subst = json_array(), .halt = json_array(), .scale = "0-10",
                        .intensity = -1};
    dbk_session s;
    dbk_spool_file sf;
    char when[40], dir[4096];
    int ret, open_rc = DBK_E_NOT_FOUND;
    bool opened = false;
    /* A client's spool taken (spool.h): the craving may be written without the profile,
     * which is then opened only if it must be, after the spool is let go. Else the
     * profile is opened once, first (role_in_run): a counselor's profile is refused
     * before anything else, as main would; a profile that does not open is said after
     * the flags are checked. */
    bool spool = dbk_local_dir(dir, sizeof dir) == DBK_OK && dbk_spool_take(&sf, dir);

    if (!spool && (ret = open_checked(&s, &open_rc, &opened)) != DBK_EXIT_OK)
        goto out;
    if ((ret = parse_craving(&c, argc, argv)) < 0)
        goto bad;
    if (ret != DBK_EXIT_OK)
        goto out;
    if (!check_craving(&c)) {
        ret = DBK_EXIT_USAGE;
        goto out;
    }
    if (optind == argc && (c.result == NULL || c.intensity < 0) && dbk_prompt_interactive()) {
        spool = let_go(&sf, spool); /* no lock held across the prompts */
        /* Passphrase first: a wrong one costs none of what is typed next. */
        if (!opened && (ret = open_checked(&s, &open_rc, &opened)) != DBK_EXIT_OK)
            goto out;
        if (!opened) {
            ret = dbk_cmd_no_profile(open_rc);
            goto out;
        }
        if (dbk_prompt_unlock(&s) == DBK_E_PASSPHRASE)
            fprintf(stderr, "The passphrase did not unlock Daybook. You can still write the "
                            "craving: it is kept sealed on this device and saved the next time "
                            "Daybook unlocks.\n");
        if (!prompt_missing(&c.intensity, &c.result, c.doc, c.triggers, c.halt, c.coping))
            goto bad;
    }
    if (optind != argc || c.result == NULL || c.intensity < 0)
        goto bad;
    if (c.at == NULL) {
        dbk_now_rfc3339(when);
    } else if (!dbk_bd_time("--at", c.at, when)) {
        ret = DBK_EXIT_USAGE;
        goto out;
    }
    build_craving(&c, when);
    if (spool && !opened && !calls_for_card(&c) && spooled(ctx, &sf, &spool, &c, &ret))
        goto out;
    spool = let_go(&sf, spool); /* before the profile: its fold takes the spool's lock */
    if (!opened && (ret = open_checked(&s, &open_rc, &opened)) != DBK_EXIT_OK)
        goto out;
    if (!opened) {
        ret = dbk_cmd_no_profile(open_rc);
        goto out;
    }
    ret = save_craving(ctx, &s, &c);
    goto out;
bad:
    ret = usage();
out:
    (void)let_go(&sf, spool);
    if (opened)
        dbk_session_close(&s);
    craving_clear(&c);
    return ret;
}

const dbk_cmd dbk_cmd_craving = {
    .name = "craving",
    .usage = "daybook craving --intensity N --outcome resisted|used [--at TIME] [options]",
    .summary = "log a craving: how strong, what set it off, how you coped",
    .help = help,
    .client_only = true,
    .role_in_run = true,
    .run = run,
};
