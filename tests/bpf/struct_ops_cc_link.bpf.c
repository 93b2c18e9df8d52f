// SPDX-License-Identifier: GPL-2.0
/* The congestion control of struct_ops_cc.bpf.c, registered through a BPF
 * link (SEC(".struct_ops.link"), Linux 6.4+): it is unregistered when the
 * link is closed.
 *
 * The local struct has a ___flavor (the kernel struct is found by its
 * essential name, tcp_congestion_ops) and one member no kernel has, left
 * zero: the loader skips it. */
#include "bpfld_test.h"
#include <bpf_tracing.h>

char LICENSE[] SEC("license") = "GPL";

struct sock {
	int sk_rcvbuf;
};

struct tcp_congestion_ops___bpfld {
	__u32 (*ssthresh)(struct sock *sk);
	void (*cong_avoid)(struct sock *sk, __u32 ack, __u32 acked);
	__u32 (*undo_cwnd)(struct sock *sk);
	void (*init)(struct sock *sk);
	__u32 bpfld_not_in_kernel;
	char name[16];
};

extern __u32 tcp_reno_ssthresh(struct sock *sk) __ksym;
extern void tcp_reno_cong_avoid(struct sock *sk, __u32 ack, __u32 acked) __ksym;
extern __u32 tcp_reno_undo_cwnd(struct sock *sk) __ksym;

__u64 init_calls;
__u64 cong_avoid_calls;

SEC("struct_ops/bpfld_cc_init")
void BPF_PROG(bpfld_cc_init, struct sock *sk)
{
	__sync_fetch_and_add(&init_calls, 1);
}

SEC("struct_ops")
__u32 BPF_PROG(bpfld_cc_ssthresh, struct sock *sk)
{
	return tcp_reno_ssthresh(sk);
}

SEC("struct_ops")
void BPF_PROG(bpfld_cc_cong_avoid, struct sock *sk, __u32 ack, __u32 acked)
{
	__sync_fetch_and_add(&cong_avoid_calls, 1);
	tcp_reno_cong_avoid(sk, ack, acked);
}

SEC("struct_ops")
__u32 BPF_PROG(bpfld_cc_undo_cwnd, struct sock *sk)
{
	return tcp_reno_undo_cwnd(sk);
}

SEC(".struct_ops.link")
struct tcp_congestion_ops___bpfld bpfld_cc = {
	.init = (void *)bpfld_cc_init,
	.ssthresh = (void *)bpfld_cc_ssthresh,
	.cong_avoid = (void *)bpfld_cc_cong_avoid,
	.undo_cwnd = (void *)bpfld_cc_undo_cwnd,
	.name = "bpfld_cc",
};
