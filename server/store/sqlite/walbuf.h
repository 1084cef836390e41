/*
 * A VFS for daybook.db that writes the write-ahead log's frames of one commit with
 * one write instead of two per frame (walbuf.c says how and why it is safe). Every
 * file but the log is the default VFS's own.
 */
#ifndef DBK_SERVER_STORE_SQLITE_WALBUF_H
#define DBK_SERVER_STORE_SQLITE_WALBUF_H

#include <sqlite3.h>

#define DBK_WALBUF_VFS "dbk-walbuf"

/* Registers the VFS (not as the default), once; SQLITE_OK, or SQLite's error (then
 * connections use the default VFS). Call after sqlite3_config, before opening. */
int dbk_walbuf_register(void);

#endif
