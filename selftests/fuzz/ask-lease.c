// SPDX-License-Identifier: MIT
/*
 * ask-lease.c - what fuzz/ask links in place of daemon/lease.c: the
 * lease calls model-ask.c makes to encode with a tokenizer placed in a
 * model's lease. The fuzzed models load theirs on the heap and have no
 * lease, so these are never reached: reaching one is a bug.
 */
#include <stdlib.h>

#include "daemon/lease.h"

int lease_mem_get(struct lease *l, struct lease_mem *m)
{
	(void)l;
	(void)m;
	abort();
}

void lease_mem_put(struct lease *l)
{
	(void)l;
	abort();
}
