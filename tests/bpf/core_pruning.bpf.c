/* libbpf shares one candidate list per local type across all relocations
 * of an object and shrinks it to the candidates each relocation matched.
 * The kernel has two different `struct dma_chan`; only the 112-byte one
 * has `cookie`. The field relocation, applied first, drops the 16-byte
 * one, so the size relocation that follows is no longer ambiguous (alone,
 * it is: core_ambiguous.bpf.c) and gives 112. Both programs write their
 * value to .bss. */
#include "bpfld_test.h"
#include <bpf_core_read.h>

char LICENSE[] SEC("license") = "GPL";

struct dma_chan {
	int cookie;
} __attribute__((preserve_access_index));

__u64 dma_chan_cookie_offset, dma_chan_size;

SEC("syscall")
int cookie_offset(void *ctx)
{
	dma_chan_cookie_offset = bpf_core_field_offset(struct dma_chan, cookie);
	return 0;
}

SEC("syscall")
int size_after_pruning(void *ctx)
{
	dma_chan_size = bpf_core_type_size(struct dma_chan);
	return 0;
}
