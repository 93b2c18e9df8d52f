/* A global subprogram whose context argument is a `void *` tagged
 * __arg_ctx: kernels from 6.8 read the tag; for older ones the loader
 * gives the argument the program type's context struct (libbpf's
 * fallback), which every kernel with global functions takes. */
#include "bpfld_test.h"

char LICENSE[] SEC("license") = "GPL";

#define __arg_ctx __attribute__((btf_decl_tag("arg:ctx")))

__u64 seen_len;

__attribute__((noinline)) int packet_len(void *ctx __arg_ctx)
{
	struct xdp_md *x = ctx;

	return x->data_end - x->data;
}

SEC("xdp")
int measure(struct xdp_md *ctx)
{
	seen_len = packet_len(ctx);
	return XDP_PASS;
}
