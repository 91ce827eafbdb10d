/* wf_sweep.h - the workflow runs' expiry sweep.
 *
 * Every SF_WF_SWEEP_EVERY_MS, and again at once while there is a backlog,
 * runs wf_expire.lua: failed runs (P:{wf}:failed) get their deletion time
 * (failure + STEPFLOW_WORKFLOW_RETENTION_S) in P:{wf}:expire, and runs
 * whose time has come are deleted, at most SF_WF_SWEEP_BATCH of each per
 * call.  Every coordinator runs one: the script is atomic and idempotent,
 * so they need no coordination.
 *
 * Runs on the coordinator's event_base with its command connection; a
 * Redis error is logged and the next tick tries again. */
#ifndef SF_COORD_WF_SWEEP_H
#define SF_COORD_WF_SWEEP_H

#include "coord.h"

#define SF_WF_SWEEP_EVERY_MS 5000
#define SF_WF_SWEEP_BATCH 200

typedef struct sf_wf_sweep sf_wf_sweep;

/* Creates the sweep and arms its timer.  NULL only on allocation failure. */
sf_wf_sweep *sf_wf_sweep_new(sf_coord *c);
/* Stops it; a call in flight finishes unseen (the object is freed when its
 * reply arrives).  NULL is a no-op. */
void sf_wf_sweep_free(sf_wf_sweep *w);

#endif
