/* SPDX-License-Identifier: MIT */
/* The schema migrations compiled into the broker: registry_schema.c is generated at build time
 * from schema/NNN_name.sql by broker/embed_schema.cmake (numbered 1..n without gaps). */
#ifndef RD_BROKER_REGISTRY_SCHEMA_H
#define RD_BROKER_REGISTRY_SCHEMA_H

struct registry_migration {
    unsigned version; /* NNN of the file name: the user_version after it is applied */
    const char *name; /* file name without .sql, for messages */
    const char *sql;  /* the file's text, NUL-terminated */
};

/* registry_migrations[i].version == i + 1, for i < registry_n_migrations. */
extern const struct registry_migration registry_migrations[];
extern const unsigned registry_n_migrations;

#endif
