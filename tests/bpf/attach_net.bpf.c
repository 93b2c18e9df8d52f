/* Network attach tests: each program counts the UDP packets to one port
 * (a .rodata setting given before the load), so the counts are exact
 * whatever else crosses the test's veth pair. The *_drop variants also
 * drop those packets: a verdict the test sees as packets not arriving. */
#include "bpfld_test.h"
#include <linux/if_ether.h>
#include <linux/ip.h>
#include <linux/in.h>
#include <linux/udp.h>
#include <linux/pkt_cls.h>
#include <bpf_endian.h>

char LICENSE[] SEC("license") = "GPL";

const volatile __u16 target_port = 0;

__u64 xdp_hits;
__u64 xdp_b_hits;
__u64 tc_hits;
__u64 tc_egress_hits;
__u64 cgroup_hits;
__u64 nf_hits;

/* Whether an IPv4 header at `ip` (within [ip, end)) carries UDP to the
 * target port. */
static __always_inline int is_target_udp(void *ip, void *end)
{
	struct iphdr *iph = ip;
	struct udphdr *udp;

	if ((void *)(iph + 1) > end || iph->protocol != IPPROTO_UDP || iph->ihl != 5)
		return 0;
	udp = (void *)(iph + 1);
	if ((void *)(udp + 1) > end)
		return 0;
	return udp->dest == bpf_htons(target_port);
}

static __always_inline int eth_target_udp(void *data, void *end)
{
	struct ethhdr *eth = data;

	if ((void *)(eth + 1) > end || eth->h_proto != bpf_htons(ETH_P_IP))
		return 0;
	return is_target_udp(eth + 1, end);
}

SEC("xdp")
int xdp_count(struct xdp_md *ctx)
{
	if (eth_target_udp((void *)(long)ctx->data, (void *)(long)ctx->data_end))
		__sync_fetch_and_add(&xdp_hits, 1);
	return XDP_PASS;
}

/* The replacement of xdp_count in the link update test. */
SEC("xdp")
int xdp_count_b(struct xdp_md *ctx)
{
	if (eth_target_udp((void *)(long)ctx->data, (void *)(long)ctx->data_end))
		__sync_fetch_and_add(&xdp_b_hits, 1);
	return XDP_PASS;
}

SEC("xdp")
int xdp_drop(struct xdp_md *ctx)
{
	if (eth_target_udp((void *)(long)ctx->data, (void *)(long)ctx->data_end)) {
		__sync_fetch_and_add(&xdp_hits, 1);
		return XDP_DROP;
	}
	return XDP_PASS;
}

SEC("tc/ingress")
int tc_count(struct __sk_buff *skb)
{
	if (eth_target_udp((void *)(long)skb->data, (void *)(long)skb->data_end))
		__sync_fetch_and_add(&tc_hits, 1);
	return TC_ACT_OK;
}

SEC("tcx/ingress")
int tcx_drop(struct __sk_buff *skb)
{
	if (eth_target_udp((void *)(long)skb->data, (void *)(long)skb->data_end)) {
		__sync_fetch_and_add(&tc_hits, 1);
		return TC_ACT_SHOT;
	}
	return TC_ACT_OK;
}

SEC("tcx/egress")
int tcx_egress_count(struct __sk_buff *skb)
{
	/* Egress skbs may not have their headers in the linear area yet. */
	bpf_skb_pull_data(skb, sizeof(struct ethhdr) + sizeof(struct iphdr) + sizeof(struct udphdr));
	if (eth_target_udp((void *)(long)skb->data, (void *)(long)skb->data_end))
		__sync_fetch_and_add(&tc_egress_hits, 1);
	return TC_ACT_OK;
}

/* cgroup_skb sees the packet from its IP header. */
SEC("cgroup_skb/egress")
int cgroup_egress_count(struct __sk_buff *skb)
{
	struct {
		struct iphdr ip;
		struct udphdr udp;
	} h;

	if (bpf_skb_load_bytes(skb, 0, &h, sizeof(h)) == 0 && h.ip.protocol == IPPROTO_UDP &&
	    h.udp.dest == bpf_htons(target_port))
		__sync_fetch_and_add(&cgroup_hits, 1);
	return 1; /* allow */
}

struct bpf_nf_ctx___local {
	const void *state;
	struct sk_buff *skb;
} __attribute__((preserve_access_index));

/* Netfilter programs see an skb (BTF pointer): read its IP header with
 * the dynptr-free way available to them, bpf_skb_load_bytes is not. The
 * headers are reached through the skb's head and network header. */
struct sk_buff___local {
	unsigned char *head;
	__u16 network_header;
} __attribute__((preserve_access_index));

SEC("netfilter")
int nf_drop(struct bpf_nf_ctx___local *ctx)
{
	struct sk_buff___local *skb = (void *)ctx->skb;
	struct {
		struct iphdr ip;
		struct udphdr udp;
	} h;

	if (bpf_probe_read_kernel(&h, sizeof(h), skb->head + skb->network_header))
		return 1; /* NF_ACCEPT */
	if (h.ip.protocol == IPPROTO_UDP && h.udp.dest == bpf_htons(target_port)) {
		__sync_fetch_and_add(&nf_hits, 1);
		return 0; /* NF_DROP */
	}
	return 1;
}
