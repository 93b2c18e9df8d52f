/* A TCP congestion control written against vmlinux.h's struct tcp_sock and
 * struct tcp_congestion_ops (struct_ops), with a kfunc. */
#include "vmlinux.h"
#include <bpf_helpers.h>
#include <bpf_tracing.h>

char LICENSE[] SEC("license") = "GPL";

extern void tcp_reno_cong_avoid(struct sock *sk, __u32 ack, __u32 acked) __ksym;
extern __u32 tcp_reno_ssthresh(struct sock *sk) __ksym;
extern __u32 tcp_reno_undo_cwnd(struct sock *sk) __ksym;

SEC("struct_ops")
void BPF_PROG(vmh_cong_avoid, struct sock *sk, __u32 ack, __u32 acked)
{
	tcp_reno_cong_avoid(sk, ack, acked);
}

SEC("struct_ops")
__u32 BPF_PROG(vmh_ssthresh, struct sock *sk)
{
	struct tcp_sock *tp = (struct tcp_sock *)sk;

	return tp->snd_cwnd > 4 ? tcp_reno_ssthresh(sk) : 2;
}

SEC("struct_ops")
__u32 BPF_PROG(vmh_undo_cwnd, struct sock *sk)
{
	return tcp_reno_undo_cwnd(sk);
}

SEC(".struct_ops")
struct tcp_congestion_ops vmh_reno = {
	.cong_avoid = (void *)vmh_cong_avoid,
	.ssthresh = (void *)vmh_ssthresh,
	.undo_cwnd = (void *)vmh_undo_cwnd,
	.name = "bpfld_vmh",
};
