/* pktcount: counts the packets and bytes an interface receives, per CPU,
 * with an XDP program that lets every packet through. */
#include <linux/types.h>
#include <linux/bpf.h>
#include <bpf_helpers.h>

char LICENSE[] SEC("license") = "GPL";

struct counters {
	__u64 packets;
	__u64 bytes;
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct counters);
} stats SEC(".maps");

SEC("xdp")
int count_packets(struct xdp_md *ctx)
{
	__u32 zero = 0;
	struct counters *c = bpf_map_lookup_elem(&stats, &zero);

	if (c) {
		c->packets += 1;
		c->bytes += ctx->data_end - ctx->data;
	}
	return XDP_PASS;
}
