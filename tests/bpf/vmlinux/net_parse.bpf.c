/* Packet parsing with the UAPI and kernel structs of vmlinux.h: ethhdr,
 * iphdr and tcphdr bitfields, __sk_buff, xdp_md, an LRU hash keyed by a
 * struct, and a sock_ops program reading struct bpf_sock_ops. */
#include "vmlinux.h"
#include <bpf_helpers.h>
#include <bpf_endian.h>

char LICENSE[] SEC("license") = "GPL";

#define ETH_P_IP 0x0800
#define TC_ACT_OK 0
#define TC_ACT_SHOT 2

struct flow { __be32 saddr, daddr; __be16 sport, dport; };

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 1024);
	__type(key, struct flow);
	__type(value, __u64);
} flows SEC(".maps");

static __always_inline int count(void *data, void *end)
{
	struct ethhdr *eth = data;
	struct iphdr *ip = (void *)(eth + 1);
	struct tcphdr *tcp;
	struct flow f = {};
	__u64 one = 1, *v;

	if ((void *)(ip + 1) > end || eth->h_proto != bpf_htons(ETH_P_IP))
		return 0;
	if (ip->ihl != 5 || ip->protocol != IPPROTO_TCP)
		return 0;
	tcp = (void *)(ip + 1);
	if ((void *)(tcp + 1) > end || !tcp->syn)
		return 0;
	f.saddr = ip->saddr;
	f.daddr = ip->daddr;
	f.sport = tcp->source;
	f.dport = tcp->dest;
	v = bpf_map_lookup_elem(&flows, &f);
	if (v)
		__sync_fetch_and_add(v, 1);
	else
		bpf_map_update_elem(&flows, &f, &one, BPF_NOEXIST);
	return tcp->doff;
}

SEC("xdp")
int xdp_count(struct xdp_md *ctx)
{
	count((void *)(long)ctx->data, (void *)(long)ctx->data_end);
	return XDP_PASS;
}

SEC("tc")
int tc_count(struct __sk_buff *skb)
{
	count((void *)(long)skb->data, (void *)(long)skb->data_end);
	return skb->len > 0 ? TC_ACT_OK : TC_ACT_SHOT;
}

SEC("sockops")
int sockops_rtt(struct bpf_sock_ops *ops)
{
	if (ops->op == BPF_SOCK_OPS_RTT_CB)
		return ops->srtt_us;
	return 1;
}
