/* A map the kernel refuses to create (a hash map with no entries) after one
 * it accepts: the load must fail naming the map, and close what it made. */
#include "bpfld_test.h"

char LICENSE[] SEC("license") = "GPL";

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u64);
} fine_array SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 0);
	__type(key, __u32);
	__type(value, __u64);
} empty_hash SEC(".maps");

__u64 counter;

SEC("syscall")
int use_maps(void *ctx)
{
	__u32 k = 0;
	__u64 *v = bpf_map_lookup_elem(&fine_array, &k);

	if (v)
		counter += *v;
	v = bpf_map_lookup_elem(&empty_hash, &k);
	if (v)
		counter += *v;
	return 0;
}
