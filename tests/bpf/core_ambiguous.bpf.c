/* A CO-RE relocation libbpf refuses as ambiguous, on every kernel of
 * shared/btf: the kernel BTF has two different `struct dma_chan` (112 and
 * 16 bytes), so "the size of struct dma_chan" has two answers. Loading
 * must fail with "relocation decision ambiguity", never pick one.
 * (core_pruning.bpf.c shows how an earlier relocation can remove the
 * ambiguity.) */
#include "bpfld_test.h"
#include <bpf_core_read.h>

char LICENSE[] SEC("license") = "GPL";

struct dma_chan {
	int cookie;
} __attribute__((preserve_access_index));

__u64 dma_chan_size;

SEC("syscall")
int ambiguous_size(void *ctx)
{
	dma_chan_size = bpf_core_type_size(struct dma_chan);
	return 0;
}
