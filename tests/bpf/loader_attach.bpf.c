/* Programs that attach: a raw tracepoint by name, a BTF tracepoint (by the
 * BTF id found at load time), and an XDP program for the loopback
 * interface. Each counts events of one thread, chosen before the
 * load through a .rodata variable, so a test sees exactly its own calls. */
#include "bpfld_test.h"

char LICENSE[] SEC("license") = "GPL";

const volatile __u32 target_tid = 0;

__u64 raw_tp_hits;
__u64 tp_btf_hits;
__u64 xdp_packets;

static __always_inline int is_target(void)
{
	return (__u32)bpf_get_current_pid_tgid() == target_tid;
}

SEC("raw_tp/sys_enter")
int count_raw_tp(void *ctx)
{
	if (is_target())
		__sync_fetch_and_add(&raw_tp_hits, 1);
	return 0;
}

SEC("tp_btf/sys_enter")
int count_tp_btf(void *ctx)
{
	if (is_target())
		__sync_fetch_and_add(&tp_btf_hits, 1);
	return 0;
}

SEC("xdp")
int count_xdp(struct xdp_md *ctx)
{
	__sync_fetch_and_add(&xdp_packets, 1);
	return XDP_PASS;
}
