// SPDX-License-Identifier: GPL-2.0
/* tcp_bbr's bbr_main, called where the kernel allows it: from the
 * cong_control member of a tcp_congestion_ops (see kfunc_bbr.bpf.c). One
 * flavor per prototype, the call guarded by bpf_ksym_exists: the kernel's
 * own cong_control arguments differ the same way (rs is the second
 * argument on 6.1, the fourth from 6.10 on), so each branch reads the
 * context its kernel has. Registered by map update (SEC(".struct_ops")),
 * so that it loads on kernels without struct_ops links too. Only loaded
 * and registered: nothing sets up bbr's private state, so no socket should
 * use it. */
#include "bpfld_test.h"

char LICENSE[] SEC("license") = "GPL";

struct sock {
	int sk_rcvbuf;
};
struct rate_sample {
	int losses;
};

struct tcp_congestion_ops {
	__u32 (*ssthresh)(struct sock *sk);
	__u32 (*undo_cwnd)(struct sock *sk);
	void (*cong_control)(struct sock *sk, __u32 ack, int flag, const struct rate_sample *rs);
	char name[16];
};

extern void bbr_main___v6_1(struct sock *sk, const struct rate_sample *rs) __ksym __weak;
extern void bbr_main___v6_12(struct sock *sk, __u32 ack, int flag, const struct rate_sample *rs) __ksym __weak;
extern __u32 tcp_reno_ssthresh(struct sock *sk) __ksym;
extern __u32 tcp_reno_undo_cwnd(struct sock *sk) __ksym;

SEC("struct_ops")
void bpfld_bbr_cong_control(unsigned long long *ctx)
{
	struct sock *sk = (void *)ctx[0];

	if (bpf_ksym_exists(bbr_main___v6_12))
		bbr_main___v6_12(sk, (__u32)ctx[1], (int)ctx[2], (const struct rate_sample *)ctx[3]);
	else if (bpf_ksym_exists(bbr_main___v6_1))
		bbr_main___v6_1(sk, (const struct rate_sample *)ctx[1]);
}

SEC("struct_ops")
__u32 bpfld_bbr_ssthresh(unsigned long long *ctx)
{
	return tcp_reno_ssthresh((struct sock *)ctx[0]);
}

SEC("struct_ops")
__u32 bpfld_bbr_undo_cwnd(unsigned long long *ctx)
{
	return tcp_reno_undo_cwnd((struct sock *)ctx[0]);
}

SEC(".struct_ops")
struct tcp_congestion_ops bpfld_bbr = {
	.ssthresh = (void *)bpfld_bbr_ssthresh,
	.undo_cwnd = (void *)bpfld_bbr_undo_cwnd,
	.cong_control = (void *)bpfld_bbr_cong_control,
	.name = "bpfld_bbr",
};
