/* The README's library example: counts the system calls of one process,
 * chosen before the load through a .rodata variable, in an array map. */
#include "bpfld_test.h"

char LICENSE[] SEC("license") = "GPL";

const volatile __u32 target_pid = 0;

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u64);
} counts SEC(".maps");

SEC("tp_btf/sys_enter")
int count_syscalls(void *ctx)
{
	__u32 zero = 0;
	__u64 *n;

	if (bpf_get_current_pid_tgid() >> 32 != target_pid)
		return 0;
	n = bpf_map_lookup_elem(&counts, &zero);
	if (n)
		__sync_fetch_and_add(n, 1);
	return 0;
}
