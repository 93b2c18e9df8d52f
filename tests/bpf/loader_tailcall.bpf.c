/* A prog array initialised from the object: slot 1 holds tail_target. */
#include "bpfld_test.h"

char LICENSE[] SEC("license") = "GPL";

__u64 target_hits;

SEC("xdp")
int tail_target(struct xdp_md *ctx)
{
	target_hits++;
	return XDP_DROP;
}

struct {
	__uint(type, BPF_MAP_TYPE_PROG_ARRAY);
	__uint(max_entries, 2);
	__uint(key_size, sizeof(__u32));
	__array(values, int (void *));
} jmp_table SEC(".maps") = {
	.values = { [1] = (void *)&tail_target },
};

/* Returns XDP_DROP through the tail call, XDP_PASS if slot 1 is empty. */
SEC("xdp")
int tail_entry(struct xdp_md *ctx)
{
	bpf_tail_call(ctx, &jmp_table, 1);
	return XDP_PASS;
}
