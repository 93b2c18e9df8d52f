/* CO-RE type and enumerator relocations against real kernel types,
 * declared by hand: type existence, size, kernel and local type ids, type
 * matches, a type the kernel has twice (identical copies: candidates that
 * agree), enumerator existence and values of 32-bit (signed and unsigned)
 * and 64-bit enums, including an enum that is ENUM64 on 6.1 and ENUM on
 * 6.12 and later. Also a subprogram carrying relocations that two programs
 * share, and a program not loaded by default whose relocation is skipped.
 *
 * Programs are SEC("syscall") and write every relocated value into .bss
 * for a BPF_PROG_TEST_RUN to compare with the kernel's BTF. */
#include "bpfld_test.h"
#include <bpf_core_read.h>

char LICENSE[] SEC("license") = "GPL";

#define __core __attribute__((preserve_access_index))

struct task_struct {
	int pid;
} __core;

/* Matches the kernel's: pointers to a struct of the same name. */
struct list_head {
	struct list_head *next;
	struct list_head *prev;
} __core;

/* Does not match: prev is a pointer in the kernel. */
struct list_head___bad {
	struct list_head *next;
	int prev;
} __core;

/* No kernel has it. */
struct bpfld_no_such_struct {
	int x;
} __core;

/* The kernel BTF has two identical `struct elf_note_info` (deduplication
 * leftovers): both are candidates and they agree. */
struct elf_note_info {
	unsigned long size;
} __core;

/* Signed in the kernel (CPUHP_INVALID = -1); values differ by release. */
enum cpuhp_state {
	CPUHP_INVALID = -1,
	CPUHP_OFFLINE = 0,
	CPUHP_BP_PREPARE_DYN = 1,
	CPUHP_AP_ONLINE_DYN = 2,
	CPUHP_ONLINE = 3,
	CPUHP_BPFLD_NO_SUCH_STATE = 4,
};

/* ENUM64 here (and in 6.1, where IFF_CHANGE_PROTO_DOWN = 1 << 32); a
 * 32-bit ENUM without IFF_CHANGE_PROTO_DOWN from 6.12 on. */
enum netdev_priv_flags {
	IFF_LIVE_ADDR_CHANGE = 1ULL << 15,
	IFF_TX_SKB_NO_LINEAR = 1ULL << 31,
	IFF_CHANGE_PROTO_DOWN = 1ULL << 32,
};

/* ENUM64 in every kernel, values near 2^64. */
enum perf_callchain_context {
	PERF_CONTEXT_KERNEL = (__u64)-128,
	PERF_CONTEXT_MAX = (__u64)-4095,
};

/* ENUM64 in 6.1 and 6.12, absent on 6.18 (no CONFIG_HMM_MIRROR there). */
enum hmm_pfn_flags {
	HMM_PFN_VALID = 1ULL << 63,
};

/* types */
__u64 task_exists, no_such_exists, task_size, task_id_kernel, task_id_local;
__u64 list_head_matches, list_head_bad_matches, list_head_bad_exists;
__u64 note_size_offset, note_type_size;

SEC("syscall")
int types(void *ctx)
{
	task_exists = bpf_core_type_exists(struct task_struct);
	no_such_exists = bpf_core_type_exists(struct bpfld_no_such_struct);
	task_size = bpf_core_type_size(struct task_struct);
	task_id_kernel = bpf_core_type_id_kernel(struct task_struct);
	task_id_local = bpf_core_type_id_local(struct task_struct);
	list_head_matches = bpf_core_type_matches(struct list_head);
	list_head_bad_matches = bpf_core_type_matches(struct list_head___bad);
	list_head_bad_exists = bpf_core_type_exists(struct list_head___bad);
	note_size_offset = bpf_core_field_offset(struct elf_note_info, size);
	note_type_size = bpf_core_type_size(struct elf_note_info);
	return 0;
}

/* enums */
__u64 cpuhp_online_exists, cpuhp_missing_exists;
__s64 cpuhp_bp_prepare_dyn, cpuhp_ap_online_dyn, cpuhp_online, cpuhp_invalid, cpuhp_missing;
__u64 proto_down_exists, proto_down, tx_skb_no_linear, live_addr_change;
__u64 perf_context_kernel, perf_context_max;
__u64 hmm_valid_exists, hmm_valid;

SEC("syscall")
int enums(void *ctx)
{
	cpuhp_online_exists = bpf_core_enum_value_exists(enum cpuhp_state, CPUHP_ONLINE);
	cpuhp_missing_exists = bpf_core_enum_value_exists(enum cpuhp_state, CPUHP_BPFLD_NO_SUCH_STATE);
	cpuhp_bp_prepare_dyn = bpf_core_enum_value(enum cpuhp_state, CPUHP_BP_PREPARE_DYN);
	cpuhp_ap_online_dyn = bpf_core_enum_value(enum cpuhp_state, CPUHP_AP_ONLINE_DYN);
	cpuhp_online = bpf_core_enum_value(enum cpuhp_state, CPUHP_ONLINE);
	cpuhp_invalid = bpf_core_enum_value(enum cpuhp_state, CPUHP_INVALID);
	if (bpf_core_enum_value_exists(enum cpuhp_state, CPUHP_BPFLD_NO_SUCH_STATE))
		cpuhp_missing = bpf_core_enum_value(enum cpuhp_state, CPUHP_BPFLD_NO_SUCH_STATE);
	else
		cpuhp_missing = -2;

	proto_down_exists = bpf_core_enum_value_exists(enum netdev_priv_flags, IFF_CHANGE_PROTO_DOWN);
	if (bpf_core_enum_value_exists(enum netdev_priv_flags, IFF_CHANGE_PROTO_DOWN))
		proto_down = bpf_core_enum_value(enum netdev_priv_flags, IFF_CHANGE_PROTO_DOWN);
	tx_skb_no_linear = bpf_core_enum_value(enum netdev_priv_flags, IFF_TX_SKB_NO_LINEAR);
	live_addr_change = bpf_core_enum_value(enum netdev_priv_flags, IFF_LIVE_ADDR_CHANGE);

	perf_context_kernel = bpf_core_enum_value(enum perf_callchain_context, PERF_CONTEXT_KERNEL);
	perf_context_max = bpf_core_enum_value(enum perf_callchain_context, PERF_CONTEXT_MAX);

	hmm_valid_exists = bpf_core_enum_value_exists(enum hmm_pfn_flags, HMM_PFN_VALID);
	if (bpf_core_enum_value_exists(enum hmm_pfn_flags, HMM_PFN_VALID))
		hmm_valid = bpf_core_enum_value(enum hmm_pfn_flags, HMM_PFN_VALID);
	return 0;
}

/* A subprogram in .text: its relocation is applied once, before it is
 * appended to each caller. */
static __noinline __u64 pid_offset_in_subprog(void)
{
	return bpf_core_field_offset(struct task_struct, pid);
}

__u64 subprog_pid_offset_a, subprog_pid_offset_b;

SEC("syscall")
int subprog_a(void *ctx)
{
	subprog_pid_offset_a = pid_offset_in_subprog();
	return 0;
}

SEC("syscall")
int subprog_b(void *ctx)
{
	subprog_pid_offset_b = pid_offset_in_subprog() + bpf_core_type_size(struct task_struct);
	return 0;
}

/* Not loaded unless asked for: libbpf leaves its relocation alone. */
__u64 not_loaded_value;

SEC("?syscall")
int not_loaded(void *ctx)
{
	not_loaded_value = bpf_core_field_offset(struct task_struct, pid);
	return 0;
}
