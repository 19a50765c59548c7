/* SPDX-License-Identifier: MIT */
/* Registry management from the command line: rtsp-broker [-c FILE] camera|relay|user ...
 * Safe while the daemon runs (short transactions; the daemon notices the new registry
 * version within a second). */
#ifndef RD_BROKER_CLI_H
#define RD_BROKER_CLI_H

#include <stdbool.h>
#include <stdio.h>

#include "broker.h"

/* True if argv[0] names a management command ("camera", "relay", "user"). */
bool cli_is_command(const char *word);

/* Runs one management command on conf->database. argv[0] is the command word. Tables go to
 * out (JSON with --json), errors to err. The password of "user add" is read from in.
 * Returns the process exit code: 0 ok, 1 failure (error printed), 2 usage error. */
int cli_main(const struct broker_conf *conf, int argc, char **argv, FILE *in, FILE *out, FILE *err);

#endif
