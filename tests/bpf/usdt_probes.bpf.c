/* USDT and uprobe_multi programs for tests/usdt/usdt_target.c, with
 * libbpf's usdt.bpf.h (Debian's libbpf-dev, 1.1: 16-byte argument specs;
 * libbpf 1.7's header packs them into bitfields and makes them 24 bytes,
 * which is why loaders read the layout from BTF). Each program counts its
 * hits and sums the arguments it reads, so a test can check every value
 * the target passed. */
#include "bpfld_test.h"
#include <stdbool.h>
#include <linux/ptrace.h>
#include <bpf_tracing.h>
#include <usdt.bpf.h>

char LICENSE[] SEC("license") = "GPL";

__u64 args_hits;
__u64 args_bad;
__s64 arg0_sum;
__s64 arg1_sum;
__s64 arg2_sum;
__s64 arg3_sum;
__u64 args_cookie;

__u64 guarded_hits;
__s64 guarded_sum;

__u64 multi_hits[4];

__u64 auto_hits;
__s64 auto_sum;

/* bpfld:args(int i, long -3i, char i, int 5) */
SEC("usdt")
int on_args(struct pt_regs *ctx)
{
	long a0, a1, a2, a3;

	if (bpf_usdt_arg_cnt(ctx) != 4 || bpf_usdt_arg(ctx, 0, &a0) || bpf_usdt_arg(ctx, 1, &a1) ||
	    bpf_usdt_arg(ctx, 2, &a2) || bpf_usdt_arg(ctx, 3, &a3)) {
		__sync_fetch_and_add(&args_bad, 1);
		return 0;
	}
	__sync_fetch_and_add(&arg0_sum, a0);
	__sync_fetch_and_add(&arg1_sum, a1);
	__sync_fetch_and_add(&arg2_sum, a2);
	__sync_fetch_and_add(&arg3_sum, a3);
	args_cookie = bpf_usdt_cookie(ctx);
	__sync_fetch_and_add(&args_hits, 1);
	return 0;
}

/* bpfld:guarded(long 7i), behind a semaphore. */
SEC("usdt")
int on_guarded(struct pt_regs *ctx)
{
	long v;

	if (bpf_usdt_arg(ctx, 0, &v))
		return 0;
	__sync_fetch_and_add(&guarded_sum, v);
	__sync_fetch_and_add(&guarded_hits, 1);
	return 0;
}

__u64 sib_hits;
__s64 sib_sum;

/* bpfld:sib(long table[i]), a scale-index-base memory operand: only
 * usdt.bpf.h of libbpf >= 1.7 reads it (the tests build this file against
 * it at test time; built here against libbpf 1.1's, attaching is refused). */
SEC("usdt")
int on_sib(struct pt_regs *ctx)
{
	long v;

	if (bpf_usdt_arg(ctx, 0, &v))
		return 0;
	__sync_fetch_and_add(&sib_sum, v);
	__sync_fetch_and_add(&sib_hits, 1);
	return 0;
}

/* Attached by its section (bpfld's attach(), libbpf's auto-attach) to
 * the target the tests copy to this path: bpfld:args's first argument. */
SEC("usdt//tmp/bpfld_usdt_target:bpfld:args")
int on_args_auto(struct pt_regs *ctx)
{
	long a0;

	if (bpf_usdt_arg(ctx, 0, &a0))
		return 0;
	__sync_fetch_and_add(&auto_sum, a0);
	__sync_fetch_and_add(&auto_hits, 1);
	return 0;
}

/* Attached at several offsets, each with its cookie. */
SEC("uprobe.multi")
int on_multi(struct pt_regs *ctx)
{
	__u64 c = bpf_get_attach_cookie(ctx);

	if (c < 4)
		__sync_fetch_and_add(&multi_hits[c], 1);
	return 0;
}
