/* SPDX-License-Identifier: MIT */
/*
 * The lease ctl grammars: leases/<name>/ctl (vram, ttl, renew, bind,
 * unbind) and leases/ctl (acquire). One command per write, all or nothing.
 */
#ifndef GL_LEASE_CTL_H
#define GL_LEASE_CTL_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

struct lease;
struct lease_ops;
struct lease_req;
struct lease_table;
struct strbuf;

/*
 * leases_req_init - an acquire of @name for @uid/@gid with the policy's
 * defaults (default_vram, default_ttl, device 0, unbound): mkdir as it
 * is, and "acquire" before its options. @name is borrowed.
 */
void leases_req_init(struct lease_req *req, struct lease_table *lt,
		     const char *name, uid_t uid, gid_t gid);

/*
 * lease_ctl_write - apply one command to @l; @token is the open file it
 * came through (for bind). Returns 0, -EINVAL, -EFBIG, -ENOSPC, -EDQUOT,
 * -EKEYEXPIRED, -ENOENT (dropped), -ENOMEM, or lease_set_io()'s errors.
 */
int lease_ctl_write(struct lease *l, const char *data, size_t len,
		    const void *token);

/*
 * leases_ctl_write - "acquire NAME [vram=SIZE] [ttl=SECS] [device=N]
 * [bind]" for @uid/@gid; the new lease's creator operations are @ops
 * with @ops_ctx; sets *bound when it is bound to @token. Returns 0 or
 * the errnos of lease_acquire, -EFBIG.
 */
int leases_ctl_write(struct lease_table *lt, const struct lease_ops *ops,
		     void *ops_ctx, uid_t uid, gid_t gid, const char *data,
		     size_t len, const void *token, bool *bound);

/* leases_ctl_show - one acquire line per lease @uid may see. */
void leases_ctl_show(struct lease_table *lt, uid_t uid, struct strbuf *sb);

/* lease_show/lease_show_stats - leases/<name>/ctl (read) and stats. */
void lease_show(struct lease *l, struct strbuf *sb);
void lease_show_stats(struct lease *l, struct strbuf *sb);

#endif
