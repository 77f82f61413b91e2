/* SPDX-License-Identifier: MIT */
/*
 * Daemon policy: the /gpu/ctl file's grammar (defaults, limits, quotas
 * and the debug clock knob).
 */
#ifndef GL_POLICY_H
#define GL_POLICY_H

#include <stddef.h>
#include <sys/types.h>

struct broker;
struct strbuf;

/* policy_show - the /gpu/ctl text: one valid command per line. */
void policy_show(struct broker *b, struct strbuf *sb);

/*
 * policy_write - apply one /gpu/ctl command written by @uid. Returns 0,
 * -EACCES (not root), -EINVAL (malformed or out of range), -EFBIG (line
 * too long), -ENOMEM. All or nothing.
 */
int policy_write(struct broker *b, uid_t uid, const char *data, size_t len);

#endif
