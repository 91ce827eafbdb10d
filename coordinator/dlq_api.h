/* dlq_api.h - helpers shared by the DLQ handlers (dlq_api.c,
 * dlq_actions.c): deleting entries through dlq_delete.lua.
 *
 * Runs on the coordinator's event_base with its command connection. */
#ifndef SF_COORD_DLQ_API_H
#define SF_COORD_DLQ_API_H

#include <stddef.h>
#include "coord.h"

/* "deleted" = entries that existed; "status" SF_AGAIN when Redis failed. */
typedef void sf_dlq_deleted_fn(sf_coord *c, sf_status status, size_t deleted,
                               void *arg);

/* Deletes the entries "ids[0..n)" (strings copied) with dlq_delete.lua,
 * pipelined.  Returns SF_AGAIN when Redis is down ("done" not called);
 * otherwise "done" is called once, later.  n == 0 is not allowed. */
sf_status sf_dlq_delete_ids(sf_coord *c, char *const *ids, size_t n,
                            sf_dlq_deleted_fn *done, void *arg);

/* The value of "name" among HGETALL fields, or NULL. */
const char *sf_dlq_field(const char **fields, const char **values, size_t n,
                         const char *name);

#endif
