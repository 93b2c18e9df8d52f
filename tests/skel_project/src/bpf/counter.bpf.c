/* Counts the system calls of one process (set in .rodata before load),
 * with a few section shapes for the skeleton: a struct in .bss, an enum,
 * an array and a pointer in .data. */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>

char LICENSE[] SEC("license") = "GPL";

enum mode { MODE_COUNT = 1, MODE_IGNORE = 2 };

struct stats {
	__u64 calls;
	__u32 last_id;
	__u8 seen;
	__s16 delta;
};

const volatile __u32 target_tgid = 0;
const volatile enum mode mode = MODE_COUNT;

__u64 hits;
struct stats stats;
__u32 per_slot[4] = { 1, 2, 3, 4 };
void *last_ptr = 0;
__u64 bumped_by_user = 7;

SEC("raw_tp/sys_enter")
int count_calls(struct bpf_raw_tracepoint_args *ctx)
{
	if (bpf_get_current_pid_tgid() >> 32 != target_tgid || mode != MODE_COUNT)
		return 0;
	__sync_fetch_and_add(&hits, 1);
	stats.calls += 1;
	stats.last_id = (__u32)ctx->args[1];
	stats.seen = 1;
	per_slot[hits & 3] += (__u32)bumped_by_user;
	return 0;
}
