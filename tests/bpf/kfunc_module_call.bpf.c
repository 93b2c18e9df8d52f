// SPDX-License-Identifier: GPL-2.0
/* A module kfunc called unconditionally: bpf_xdp_ct_lookup and
 * bpf_ct_release from nf_conntrack (a module on Debian's kernels, built in
 * on the 6.18 host). Unlike kfunc_module.bpf.c there is no
 * bpf_ksym_exists(): that is an ld_imm64 of a BTF FUNC, which 6.1's
 * verifier refuses ("isn't KIND_VAR"), while a kfunc call into a module
 * BTF (the call's `off` naming an fd_array slot) loads there. The externs
 * are strong: without nf_conntrack the object is refused before loading. */
#include "bpfld_test.h"

struct nf_conn {
	unsigned long status;
};

/* 12 bytes on 6.1, 16 since 6.2; the kfunc checks opts__sz at run time. */
struct bpf_ct_opts {
	__s32 netns_id;
	__s32 error;
	__u8 l4proto;
	__u8 dir;
	__u16 ct_zone_id;
	__u8 ct_zone_dir;
	__u8 reserved[3];
};

extern struct nf_conn *bpf_xdp_ct_lookup(struct xdp_md *ctx, struct bpf_sock_tuple *tuple,
					 __u32 tuple__sz, struct bpf_ct_opts *opts,
					 __u32 opts__sz) __ksym;
extern void bpf_ct_release(struct nf_conn *ct) __ksym;

int lookups;
int found;

SEC("xdp")
int ct_call(struct xdp_md *ctx)
{
	struct bpf_ct_opts opts = { .netns_id = -1, .l4proto = 6 };
	char buf[40] = {};
	struct nf_conn *ct;

	ct = bpf_xdp_ct_lookup(ctx, (struct bpf_sock_tuple *)buf, 12, &opts, sizeof(opts));
	lookups++;
	if (ct) {
		found++;
		bpf_ct_release(ct);
	}
	return XDP_PASS;
}

char LICENSE[] SEC("license") = "GPL";
