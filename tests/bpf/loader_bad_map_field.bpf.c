/* A BTF map definition with a field libbpf does not know: opening must name
 * the map and the field. */
#include "bpfld_test.h"

char LICENSE[] SEC("license") = "GPL";

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u32);
	__uint(bogus_field, 3);
} odd_map SEC(".maps");

SEC("syscall")
int uses_odd_map(void *ctx)
{
	__u32 k = 0;

	return bpf_map_lookup_elem(&odd_map, &k) != 0;
}
