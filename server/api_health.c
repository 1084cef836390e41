/*
 * GET /healthz and GET /metrics (proto/README.md section 16), GET
 * /v1/consent-template (section 4.3) and GET /v1/help-lines (section 4.4). All are
 * public in
 * the sense of needing no token, and reveal no account, stream or token: only the
 * version, the server id a client pins, and counts.
 */
#include "api.h"
#include "app.h"

#include "dbk/error.h"
#include "dbk/version.h"

#include <stdio.h>

void dbk_api_consent_template(dbk_http_request *req);
void dbk_api_healthz(dbk_http_request *req);
void dbk_api_help_lines(dbk_http_request *req);
void dbk_api_metrics(dbk_http_request *req);

/* GET /v1/consent-template: the clinic's consent wording, public like /healthz (a
 * client reads it at enrollment before it shares anything); 404 when the clinic set
 * none and clients use Daybook's wording. */
void
dbk_api_consent_template(dbk_http_request *req)
{
    dbk_app *app = req->app;
    if (app->config.consent_template == NULL) {
        dbk_http_respond_error(req, DBK_E_NOT_FOUND);
        return;
    }
    dbk_http_respond_json(req, 200, json_pack("{s:O}", "template", app->config.consent_template));
}

/* GET /v1/help-lines: the clinic's numbers for `daybook help-now`, public (a
 * counselor's device hashes them into an invite, a client's pins them at enrollment
 * and compares them at each sync). With none set, the empty list: that, too, is
 * what a link's hash vouches for. */
void
dbk_api_help_lines(dbk_http_request *req)
{
    dbk_app *app = req->app;
    json_t *lines = app->config.help_lines;
    dbk_http_respond_json(req, 200, json_pack("{s:o}", "lines",
                                              lines != NULL ? json_deep_copy(lines) : json_array()));
}

/* On the storage worker: whether the store answers (store.h dbk_store_ping). The
 * loop never waits on the database; a pool thread does, as for any request. */
static void
healthz_op(dbk_api_job *j, dbk_store *st)
{
    dbk_app *app = j->app;
    char sid[DBK_ID_TEXT_LEN + 1];
    int rc = dbk_store_ping(st);

    if (rc != DBK_OK) {
        /* Whatever the store said, to a load balancer it is one thing: not here. */
        if (rc == DBK_E_UNAVAILABLE || rc == DBK_E_IO || rc == DBK_E_CORRUPT)
            rc = DBK_E_STORE_UNAVAILABLE;
        dbk_api_fail(j, rc, NULL);
        return;
    }
    dbk_id_to_text(&app->info.server_id, sid);
    j->out = json_pack("{s:s, s:s, s:i, s:s, s:I}", "status", "ok", "version", DBK_VERSION,
                       "protocol", DBK_PROTOCOL_VERSION, "server_id", sid, "restore_generation",
                       (json_int_t)app->info.restore_generation);
    if (j->out == NULL)
        dbk_api_fail(j, DBK_E_NOMEM, NULL);
}

/* GET /healthz: 200 with the server's identity when it serves and its store answers;
 * 503 unavailable while draining, 503 store_unavailable (with Retry-After) when the
 * database is away or the SQLite file is gone (proto/README.md section 16). */
void
dbk_api_healthz(dbk_http_request *req)
{
    dbk_app *app = req->app;

    if (dbk_http_server_draining(app->http)) {
        dbk_http_respond_error(req, DBK_E_UNAVAILABLE);
        return;
    }
    dbk_api_job *j = dbk_api_job_new(req, healthz_op, false);
    if (j != NULL)
        dbk_api_submit(j);
}

void
dbk_api_metrics(dbk_http_request *req)
{
    dbk_app *app = req->app;
    uint64_t commits = 0, commit_failures = 0, jobs = 0;
    dbk_checkpoint_counts ck;
    char buf[4096];
    int n;

    if (!app->config.metrics_public && !dbk_http_from_loopback(req)) {
        dbk_http_respond_error(req, DBK_E_FORBIDDEN);
        return;
    }
    dbk_worker_counts(app->worker, &commits, &commit_failures, &jobs);
    n = snprintf(buf, sizeof buf,
                 "# HELP daybook_up 1 while daybookd serves.\n"
                 "# TYPE daybook_up gauge\ndaybook_up 1\n"
                 "# HELP daybook_uptime_seconds Seconds since daybookd started.\n"
                 "# TYPE daybook_uptime_seconds gauge\ndaybook_uptime_seconds %llu\n"
                 "# HELP daybook_connections Open client connections.\n"
                 "# TYPE daybook_connections gauge\ndaybook_connections %zu\n"
                 "# HELP daybook_storage_jobs_pending Requests not yet stored (prep and storage).\n"
                 "# TYPE daybook_storage_jobs_pending gauge\ndaybook_storage_jobs_pending %zu\n"
                 "# HELP daybook_storage_commits_total Transactions committed (group commits).\n"
                 "# TYPE daybook_storage_commits_total counter\n"
                 "daybook_storage_commits_total %llu\n"
                 "# HELP daybook_storage_commit_failures_total Group commits that failed.\n"
                 "# TYPE daybook_storage_commit_failures_total counter\n"
                 "daybook_storage_commit_failures_total %llu\n"
                 "# HELP daybook_storage_jobs_total Requests run by the storage thread.\n"
                 "# TYPE daybook_storage_jobs_total counter\ndaybook_storage_jobs_total %llu\n"
                 "# HELP daybook_responses_total API responses by status class.\n"
                 "# TYPE daybook_responses_total counter\n"
                 "daybook_responses_total{class=\"2xx\"} %llu\n"
                 "daybook_responses_total{class=\"4xx\"} %llu\n"
                 "daybook_responses_total{class=\"5xx\"} %llu\n"
                 "# HELP daybook_restore_generation The store's restore generation.\n"
                 "# TYPE daybook_restore_generation gauge\ndaybook_restore_generation %lld\n"
                 "# HELP daybook_storage_full 1 while new records are refused for a full disk.\n"
                 "# TYPE daybook_storage_full gauge\ndaybook_storage_full %d\n"
                 "# HELP daybook_heap_trims_total Times free heap memory went back to the "
                 "kernel, once per burst at rest.\n"
                 "# TYPE daybook_heap_trims_total counter\ndaybook_heap_trims_total %llu\n"
                 "# HELP daybook_sync_requests_total POST /v1/sync requests received.\n"
                 "# TYPE daybook_sync_requests_total counter\n"
                 "daybook_sync_requests_total %llu\n",
                 (unsigned long long)((uv_now(app->loop) - app->started_ms) / 1000),
                 dbk_http_server_connections(app->http), dbk_worker_pending(app->worker),
                 (unsigned long long)commits, (unsigned long long)commit_failures,
                 (unsigned long long)jobs, (unsigned long long)app->requests[2],
                 (unsigned long long)app->requests[4], (unsigned long long)app->requests[5],
                 (long long)app->info.restore_generation, dbk_store_full(app->store) ? 1 : 0,
                 (unsigned long long)app->heap_trims, (unsigned long long)app->syncs);
    if (n > 0 && (size_t)n < sizeof buf && dbk_store_checkpoint_counts(app->store, &ck) == DBK_OK)
        n += snprintf(buf + n, sizeof buf - (size_t)n,
                      "# HELP daybook_wal_checkpoints_total SQLite checkpoints of the write-ahead "
                      "log, by the checkpoint thread and by the storage thread (at the log's "
                      "bound, every request waiting).\n"
                      "# TYPE daybook_wal_checkpoints_total counter\n"
                      "daybook_wal_checkpoints_total{by=\"thread\"} %llu\n"
                      "daybook_wal_checkpoints_total{by=\"storage\"} %llu\n"
                      "# HELP daybook_wal_checkpoint_storage_pages_total Pages of the log the "
                      "storage thread's checkpoints found left to copy.\n"
                      "# TYPE daybook_wal_checkpoint_storage_pages_total counter\n"
                      "daybook_wal_checkpoint_storage_pages_total %llu\n"
                      "# HELP daybook_wal_checkpoint_storage_seconds_total Time the storage "
                      "thread's checkpoints held it (and every request), waits included.\n"
                      "# TYPE daybook_wal_checkpoint_storage_seconds_total counter\n"
                      "daybook_wal_checkpoint_storage_seconds_total %.6f\n"
                      "# HELP daybook_wal_max_pages The log's bound (--wal-max-mb), in pages.\n"
                      "# TYPE daybook_wal_max_pages gauge\ndaybook_wal_max_pages %llu\n",
                      (unsigned long long)ck.thread, (unsigned long long)ck.storage,
                      (unsigned long long)ck.storage_pages, (double)ck.storage_ns / 1e9,
                      (unsigned long long)ck.bound_pages);
    dbk_http_respond(req, 200, "text/plain; version=0.0.4", NULL, buf,
                     n > 0 && (size_t)n < sizeof buf ? (size_t)n : 0);
}
