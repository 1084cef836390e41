/* Small file-system helpers both programs need. */
#ifndef DBK_FS_H
#define DBK_FS_H

/* mkdir -p, creating missing directories with mode 0700 (private data lives there).
 * Returns 0, or -1 with errno set. */
int dbk_mkdirs(const char *path);

#endif
