// SPDX-License-Identifier: GPL-2.0
/* Module kfuncs: bpf_xdp_ct_lookup and bpf_ct_release live in nf_conntrack
 * (a module on Debian's kernels, built in on the 6.18 host). When the
 * kfunc is in a module, calls carry the module BTF's fd_array slot in
 * `off`, and bpf_ksym_exists() loads the module BTF fd in the second half
 * of its ld_imm64. */
#include "bpfld_test.h"

/* Bodies, not forward declarations: a FWD is incompatible with the
 * kernel's STRUCT in a kfunc prototype. bpf_sock_tuple comes from
 * linux/bpf.h. */
struct nf_conn {
	unsigned long status;
};

/* 16 bytes since 6.2 (12 on 6.1); only its address is passed. */
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
					 __u32 opts__sz) __ksym __weak;
extern void bpf_ct_release(struct nf_conn *ct) __ksym __weak;

int lookups;
int has_lookup = -1;

SEC("xdp")
int ct_lookup(struct xdp_md *ctx)
{
	struct bpf_ct_opts opts = { .netns_id = -1, .l4proto = 6 };
	struct bpf_sock_tuple *tuple = 0;
	char buf[40] = {};
	struct nf_conn *ct;

	has_lookup = bpf_ksym_exists(bpf_xdp_ct_lookup);
	if (!bpf_ksym_exists(bpf_xdp_ct_lookup) || !bpf_ksym_exists(bpf_ct_release))
		return XDP_PASS;
	tuple = (void *)buf;
	ct = bpf_xdp_ct_lookup(ctx, tuple, 12, &opts, sizeof(opts));
	lookups++;
	if (ct)
		bpf_ct_release(ct);
	return XDP_PASS;
}

char LICENSE[] SEC("license") = "GPL";
