/* Socket attach tests: sockops counts the TCP connections a cgroup
 * establishes; sk_lookup steers connections to one port into a socket of
 * a sockmap; sk_msg and sk_skb verdict programs on a sockmap count the
 * messages and bytes of the sockets in it. */
#include "bpfld_test.h"
#include <bpf_endian.h>

char LICENSE[] SEC("license") = "GPL";

const volatile __u16 target_port = 0;

__u64 sockops_established;
__u64 lookups;
__u64 msg_hits;
__u64 msg_bytes;
__u64 skb_hits;

struct {
	__uint(type, BPF_MAP_TYPE_SOCKMAP);
	__uint(max_entries, 2);
	__type(key, __u32);
	__type(value, __u64);
} socks SEC(".maps");

SEC("sockops")
int sockops_count(struct bpf_sock_ops *ops)
{
	if (ops->op == BPF_SOCK_OPS_ACTIVE_ESTABLISHED_CB && ops->remote_port == bpf_htonl(target_port))
		__sync_fetch_and_add(&sockops_established, 1);
	return 1;
}

/* Connections to target_port go to the socket in slot 0 of `socks`,
 * whatever port it listens on. */
SEC("sk_lookup")
int lookup_steer(struct bpf_sk_lookup *ctx)
{
	struct bpf_sock *sk;
	__u32 zero = 0;
	long err;

	if (ctx->local_port != target_port)
		return SK_PASS;
	sk = bpf_map_lookup_elem(&socks, &zero);
	if (!sk)
		return SK_PASS;
	err = bpf_sk_assign(ctx, sk, 0);
	bpf_sk_release(sk);
	if (!err)
		__sync_fetch_and_add(&lookups, 1);
	return err ? SK_DROP : SK_PASS;
}

SEC("sk_msg")
int msg_count(struct sk_msg_md *msg)
{
	__sync_fetch_and_add(&msg_hits, 1);
	__sync_fetch_and_add(&msg_bytes, msg->size);
	return SK_PASS;
}

SEC("sk_skb/verdict")
int skb_verdict(struct __sk_buff *skb)
{
	__sync_fetch_and_add(&skb_hits, 1);
	return SK_PASS;
}
