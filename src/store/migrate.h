/*
 * migrate.h -- `cofferd migrate`: an embedded installation (SQLite + files
 * in one data directory) copied into the scale-out stores (PostgreSQL and
 * an S3 bucket), resumable and verified, sealed objects moved as they are
 * (never decrypted). docs/storage.md, "Outgrowing one machine".
 */
#ifndef CF_STORE_MIGRATE_H
#define CF_STORE_MIGRATE_H

/* argv[0] is "migrate"; returns the process exit status (0 done and
 * verified, 1 failed, 2 usage). */
int migrate_main(int argc, char **argv);

#endif
