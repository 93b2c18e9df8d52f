// SPDX-License-Identifier: GPL-2.0
/* A kfunc whose prototype really changed: tcp_bbr's bbr_main took
 * (sk, rs) on 6.1 and (sk, ack, flag, rs) on 6.12. One flavor per
 * prototype; a syscall program records which one the kernel has, so the
 * binding can be observed on each kernel (the call itself is only allowed
 * from a tcp_congestion_ops struct_ops program). */
#include "bpfld_test.h"

struct sock {
	int sk_rcvbuf;
};
struct rate_sample {
	int losses;
};

extern void bbr_main___v6_1(struct sock *sk, const struct rate_sample *rs) __ksym __weak;
extern void bbr_main___v6_12(struct sock *sk, __u32 ack, int flag, const struct rate_sample *rs) __ksym __weak;

int bbr_flavor = -1;

SEC("syscall")
int which_bbr(void *ctx)
{
	if (bpf_ksym_exists(bbr_main___v6_1))
		bbr_flavor = 1;
	else if (bpf_ksym_exists(bbr_main___v6_12))
		bbr_flavor = 2;
	else
		bbr_flavor = 0;
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
