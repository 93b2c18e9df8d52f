// SPDX-License-Identifier: GPL-2.0
/* A minimal BPF TCP congestion control, registered by updating its
 * struct_ops map (SEC(".struct_ops"), no BPF link): Reno through the
 * kernel's tcp_reno_* kfuncs (which only tcp_congestion_ops programs may
 * call), plus an init counting the sockets that picked it.
 *
 * A second variable in SEC("?.struct_ops") is not created by default; the
 * program only it points to is then not loaded either, while the programs
 * it shares with the first one are. */
#include "bpfld_test.h"
#include <bpf_tracing.h>

char LICENSE[] SEC("license") = "GPL";

struct sock {
	int sk_rcvbuf;
};

/* The members this congestion control sets, by name: the loader finds
 * each one in the kernel's struct tcp_congestion_ops. */
struct tcp_congestion_ops {
	__u32 (*ssthresh)(struct sock *sk);
	void (*cong_avoid)(struct sock *sk, __u32 ack, __u32 acked);
	__u32 (*undo_cwnd)(struct sock *sk);
	void (*init)(struct sock *sk);
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

/* Only the uncreated variable points to it. */
SEC("struct_ops")
__u32 BPF_PROG(bpfld_cc_alt_ssthresh, struct sock *sk)
{
	return tcp_reno_ssthresh(sk) + 1;
}

SEC(".struct_ops")
struct tcp_congestion_ops bpfld_cc_map = {
	.init = (void *)bpfld_cc_init,
	.ssthresh = (void *)bpfld_cc_ssthresh,
	.cong_avoid = (void *)bpfld_cc_cong_avoid,
	.undo_cwnd = (void *)bpfld_cc_undo_cwnd,
	.name = "bpfld_cc_map",
};

SEC("?.struct_ops")
struct tcp_congestion_ops bpfld_cc_alt = {
	.ssthresh = (void *)bpfld_cc_alt_ssthresh,
	.cong_avoid = (void *)bpfld_cc_cong_avoid,
	.undo_cwnd = (void *)bpfld_cc_undo_cwnd,
	.name = "bpfld_cc_alt",
};
