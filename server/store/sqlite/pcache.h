/*
 * SQLite's default page cache, wrapped so that a commit does not scan the whole
 * cache for pages it has none of (pcache.c says why and how).
 */
#ifndef DBK_SERVER_STORE_SQLITE_PCACHE_H
#define DBK_SERVER_STORE_SQLITE_PCACHE_H

/* Installs the wrapper for the process, once; SQLITE_OK, or SQLite's error (SQLite
 * already initialised: its own cache stays, only slower). Call before any open. */
int dbk_pcache_install(void);

#endif
