/* Maps pinned by name (__uint(pinning, LIBBPF_PIN_BY_NAME)): a second load
 * of the object reuses them, a map of the same name pinned with other
 * attributes makes the load fail. Programs read and bump them; one program
 * the verifier refuses, in a '?' section, makes a load fail after the maps
 * exist (and were pinned). */
#include "bpfld_test.h"

char LICENSE[] SEC("license") = "GPL";

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 4);
	__type(key, __u32);
	__type(value, __u64);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} pinned_counts SEC(".maps");

/* Longer than the kernel's 15 characters: pinned under its full name. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 16);
	__type(key, __u32);
	__type(value, __u64);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} pinned_hash_long_name SEC(".maps");

struct inner_map {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u64);
} inner SEC(".maps");

/* Slot 0 is filled when the map is created, not when it is reused. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY_OF_MAPS);
	__uint(max_entries, 2);
	__type(key, __u32);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
	__array(values, struct inner_map);
} pinned_outer SEC(".maps") = {
	.values = { &inner },
};

/* Not pinned: each load has its own. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u64);
} private_counts SEC(".maps");

/* pinned_counts[0] += 1, private_counts[0] += 1; returns
 * pinned_counts[0] * 1000 + private_counts[0]. */
SEC("syscall")
int bump(void *ctx)
{
	__u32 zero = 0;
	__u64 *shared = bpf_map_lookup_elem(&pinned_counts, &zero);
	__u64 *own = bpf_map_lookup_elem(&private_counts, &zero);

	if (!shared || !own)
		return -1;
	__sync_fetch_and_add(shared, 1);
	__sync_fetch_and_add(own, 1);
	return *shared * 1000 + *own;
}

/* pinned_counts[1] and pinned_hash_long_name[7] (0 if absent), written
 * from user space through another load's maps: returns their sum. */
SEC("syscall")
int read_shared(void *ctx)
{
	__u32 one = 1, seven = 7;
	__u64 *a = bpf_map_lookup_elem(&pinned_counts, &one);
	__u64 *b = bpf_map_lookup_elem(&pinned_hash_long_name, &seven);

	return (a ? *a : 0) + (b ? *b : 0);
}

/* 1 if pinned_outer[0] holds a map, else 0. */
SEC("syscall")
int outer_slot0_set(void *ctx)
{
	__u32 zero = 0;

	return bpf_map_lookup_elem(&pinned_outer, &zero) != 0;
}

/* Reads packet data without a bounds check. */
SEC("?xdp")
int refused(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;

	return *(volatile int *)data;
}
