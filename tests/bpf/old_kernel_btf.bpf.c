/* An object whose BTF carries every kind and linkage an old kernel lacks,
 * for BTF sanitization (Linux 5.10 has none of FLOAT, DECL_TAG, TYPE_TAG,
 * ENUM64 or an ENUM's kind flag): libbpf sanitizes them away and loads it
 * there, with func_info and line_info kept and the bpf_spin_lock map
 * value described by BTF (which the kernel requires of such a value). */
#include "bpfld_test.h"

char LICENSE[] SEC("license") = "GPL";

struct locked_value {
	struct bpf_spin_lock lock;
	__u64 count;
};

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct locked_value);
} locked SEC(".maps");

float scale = 2.5f;                                    /* FLOAT */
enum big_values { BIG_ONE = 0x100000000ULL } big = BIG_ONE; /* ENUM64 */
enum signed_values { MINUS_ONE = -1, PLUS_ONE = 1 } sign = MINUS_ONE; /* ENUM, kind flag */
int tagged_var __attribute__((btf_decl_tag("bpfld_tag"))) = 3; /* DECL_TAG */
int __attribute__((btf_type_tag("bpfld_user"))) *tagged_ptr;  /* TYPE_TAG */
__u64 result;
__u64 kernel_copy;

/* A global (non-static) subprogram: FUNC of global linkage, verified on
 * its own. */
__attribute__((noinline)) int global_add(int a, int b)
{
	return a + b;
}

/* Adds global_add(1, 1) = 2 to the locked counter per run and records
 * what it read of the other globals. */
SEC("xdp")
int count_locked(struct xdp_md *ctx)
{
	__u32 key = 0;
	struct locked_value *v = bpf_map_lookup_elem(&locked, &key);
	int add = global_add(1, sign == MINUS_ONE);

	if (!v)
		return XDP_ABORTED;
	bpf_spin_lock(&v->lock);
	v->count += add;
	bpf_spin_unlock(&v->lock);
	result = (big >> 32) + tagged_var + (tagged_ptr ? 100 : 0);
	return XDP_PASS;
}

/* bpf_probe_read_kernel[_str]: rewritten to bpf_probe_read[_str] for a
 * kernel without them (before 5.5). */
SEC("tracepoint/syscalls/sys_enter_getpid")
int read_kernel(void *ctx)
{
	char name[8];

	bpf_probe_read_kernel(&kernel_copy, sizeof(kernel_copy), &result);
	bpf_probe_read_kernel_str(name, sizeof(name), &tagged_var);
	return name[0];
}
