/* Map names come from the object: an asm label sets a pinned map's ELF
 * symbol to a path that would leave the pin root ("../", absolute). The
 * loader must refuse the name, naming the map, and pin nothing. */
#include "bpfld_test.h"

char LICENSE[] SEC("license") = "GPL";

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u64);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} climbs_out __asm__("../escaped_pin") SEC(".maps");

SEC("syscall")
int touch(void *ctx)
{
	__u32 zero = 0;
	__u64 *v = bpf_map_lookup_elem(&climbs_out, &zero);

	return v ? 1 : 0;
}
