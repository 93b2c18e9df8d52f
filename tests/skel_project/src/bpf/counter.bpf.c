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

/* Maps with number keys and values get typed handles in the skeleton. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 64);
	__type(key, __u32);
	__type(value, __u64);
} calls_by_id SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 2);
	__type(key, __u32);
	__type(value, __u64);
} totals SEC(".maps");

SEC("raw_tp/sys_exit")
int count_exits(struct bpf_raw_tracepoint_args *ctx)
{
	__u32 id = (__u32)ctx->args[1] & 63, slot = 0;
	__u64 one = 1, *v;

	if (bpf_get_current_pid_tgid() >> 32 != target_tgid)
		return 0;
	v = bpf_map_lookup_elem(&calls_by_id, &id);
	if (v)
		__sync_fetch_and_add(v, 1);
	else
		bpf_map_update_elem(&calls_by_id, &id, &one, BPF_NOEXIST);
	v = bpf_map_lookup_elem(&totals, &slot);
	if (v)
		__sync_fetch_and_add(v, 1);
	return 0;
}
