/* The TD-launch gate: what keeps a runtime TDX module update away from TD builds and
 * migrations. The kernel no longer checks that none is in flight (Linux 7.2 runs the update
 * under stop_machine); cocod does. TD launches and migrations through cocod hold the gate
 * shared for their compat-sensitive part (TDH.MNG.CREATE .. TDH.MR.FINALIZE, or the migration);
 * an update takes it exclusive. An update waiting for the gate blocks new shared entries
 * (writer preference), so it is not starved; a shared entry waits at most its timeout and
 * then gets -ETIMEDOUT (the REST layer answers 409 with Retry-After).
 * Once the module is lost (tdx-lost, reboot required) the gate is closed: every entry fails
 * with -ENXIO. Thread-safe. */
#pragma once
#include <stdbool.h>
#include <stdint.h>

struct tdxd_gate;

int tdxd_gate_new(struct tdxd_gate **ret);
void tdxd_gate_free(struct tdxd_gate *g);

/* For TD launches and migrations: 0, -ETIMEDOUT (an update holds or waits for the gate),
 * -ENXIO (the module is lost). */
int tdxd_gate_enter_shared(struct tdxd_gate *g, unsigned timeout_ms);
void tdxd_gate_leave_shared(struct tdxd_gate *g);

/* For an update: 0 once no shared holder is left, -ETIMEDOUT (shared holders stayed; new ones
 * are admitted again), -ENXIO, -EBUSY (another update holds it). */
int tdxd_gate_enter_exclusive(struct tdxd_gate *g, unsigned timeout_ms);
void tdxd_gate_leave_exclusive(struct tdxd_gate *g);

/* Close the gate for good (the module is lost). */
void tdxd_gate_close(struct tdxd_gate *g);

struct tdxd_gate_stats {
	unsigned shared;	/* holders now */
	bool exclusive;		/* an update holds it */
	bool exclusive_waiting; /* an update waits for it */
	bool closed;
	uint64_t last_exclusive_hold_ns; /* the last exclusive hold, entry to leave */
	uint64_t exclusive_entries;
};
void tdxd_gate_stats(struct tdxd_gate *g, struct tdxd_gate_stats *ret);
