/* Static and global subprograms, a bpf_loop callback, several programs per
 * section and per subprogram: each program gets its own copy of the
 * subprograms it calls. */
#include "bpfld_test.h"

char LICENSE[] SEC("license") = "GPL";

__u64 loop_count;
__u64 loop_sum;
__u64 static_out;
__u64 global_out;
__u64 raw_tp_out;

static __noinline __u64 static_mul(__u64 a, __u64 b)
{
	return a * b;
}

/* Global: verified on its own, with scalar arguments only. */
__noinline int global_add(int a, int b)
{
	return a + b;
}

struct loop_ctx {
	__u64 sum;
};

static int loop_cb(__u32 idx, void *data)
{
	struct loop_ctx *c = data;

	c->sum += idx;
	loop_count++;
	return 0;
}

/* bpf_loop runs loop_cb 10 times: loop_count = 10, loop_sum = 0+...+9. */
SEC("syscall")
int run_loop(void *ctx)
{
	struct loop_ctx c = {};

	bpf_loop(10, loop_cb, &c, 0);
	loop_sum = c.sum;
	return 0;
}

SEC("syscall")
int run_static(void *ctx)
{
	static_out = static_mul(6, 7);
	return 0;
}

SEC("syscall")
int run_global(void *ctx)
{
	global_out = global_add(40, 2) + static_mul(2, 50);
	return 0;
}

/* raw_tp programs run with BPF_PROG_TEST_RUN too; ctx is the u64 args. */
SEC("raw_tp")
int run_raw_tp(__u64 *ctx)
{
	raw_tp_out = global_add(1, 2) + static_mul(3, 3);
	return 0;
}
