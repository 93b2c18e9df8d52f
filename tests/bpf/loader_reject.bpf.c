/* One program the verifier rejects between two good ones: the loader must
 * report the bad one by name with the verifier's reason, and still load the
 * others when asked to keep going. */
#include "bpfld_test.h"

char LICENSE[] SEC("license") = "GPL";

__u64 good_runs;

SEC("syscall")
int good_first(void *ctx)
{
	good_runs += 1;
	return 0;
}

/* Reads packet data without a bounds check. */
SEC("xdp")
int bad_packet_read(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;

	return *(volatile int *)data;
}

SEC("syscall")
int good_second(void *ctx)
{
	good_runs += 100;
	return 0;
}
