/* The embedded migrations (generated from migrations/NNN_*.sql at build time). */
#ifndef BERTH_META_SQLITE_MIGRATIONS_H
#define BERTH_META_SQLITE_MIGRATIONS_H

struct berth_migration {
    int version;
    const char *sql;
};
/* Ordered by version; terminated by {0, NULL}. */
extern const struct berth_migration berth_migrations[];

#endif
