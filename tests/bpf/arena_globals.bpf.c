/* __arena global variables (section .addr_space.1) in the object's
 * BPF_MAP_TYPE_ARENA map: the loader places them in the arena (at its end
 * where the kernel allows it, as libbpf 1.7), copies their initial values
 * there after mapping the arena, and relocates their references. The
 * program counts its runs in an arena variable, doubles a value written by
 * user space, and leaves a pointer into the arena for user space to
 * follow. */
#include "bpfld_test.h"

#define __arena __attribute__((address_space(1)))

char LICENSE[] SEC("license") = "GPL";

struct {
	__uint(type, 33); /* BPF_MAP_TYPE_ARENA, newer than Debian 12's uapi headers */
	__uint(map_flags, BPF_F_MMAPABLE);
	__uint(max_entries, 4); /* pages */
} arena SEC(".maps");

/* Initialized: the loader must copy 1000 into the arena. */
__u64 __arena runs = 1000;
/* Written by user space through the mapping, read by the program. */
__u64 __arena from_user;
/* Written by the program, read by user space. */
__u64 __arena doubled;
char __arena greeting[16] = "hello, arena";

SEC("syscall")
int arena_update(void *ctx)
{
	runs += 1;
	doubled = from_user * 2;
	greeting[0] = 'H';
	return 0;
}
