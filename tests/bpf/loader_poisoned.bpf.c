/* Poisoned instructions the verifier reaches: a CO-RE relocation of a field
 * no kernel has. Unguarded (a "?" program, loaded on request), the verifier
 * stops at the poisoned instruction and the loader rewrites its log to name
 * the relocation, in libbpf's words; guarded by bpf_core_field_exists(),
 * the poisoned code is dead and the program loads. */
#include "bpfld_test.h"
#include <bpf_core_read.h>

char LICENSE[] SEC("license") = "GPL";

struct task_struct___bpfld {
	int bpfld_no_such_field;
} __attribute__((preserve_access_index));

__u64 out;

SEC("?raw_tp")
int unguarded_core(void *ctx)
{
	struct task_struct___bpfld *t = (void *)bpf_get_current_task();

	out = BPF_CORE_READ(t, bpfld_no_such_field);
	return 0;
}

SEC("raw_tp")
int guarded_core(void *ctx)
{
	struct task_struct___bpfld *t = (void *)bpf_get_current_task();

	if (bpf_core_field_exists(t->bpfld_no_such_field))
		out = BPF_CORE_READ(t, bpfld_no_such_field);
	else
		out = 7;
	return 0;
}
