// SPDX-License-Identifier: GPL-2.0
/* A strong kfunc no kernel has: the load fails with libbpf's message. */
#include "bpfld_test.h"

extern int bpfld_no_such_kfunc(int x) __ksym;

SEC("syscall")
int call_missing(void *ctx)
{
	return bpfld_no_such_kfunc(1);
}

char LICENSE[] SEC("license") = "GPL";
