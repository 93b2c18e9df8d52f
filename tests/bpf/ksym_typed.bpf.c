// SPDX-License-Identifier: GPL-2.0
/* A typed ksym: the per-CPU variable `runqueues` (struct rq), resolved
 * through kernel BTF to a BPF_PSEUDO_BTF_ID load. The verifier then needs
 * its address from kallsyms, which only kernels with CONFIG_KALLSYMS_ALL
 * list (Debian's do; the 6.18 host does not), so on the host it is checked
 * offline. A weak typed ksym that no kernel has stays 0. */
#include "bpfld_test.h"

struct rq {
	int cpu;
} __attribute__((preserve_access_index));

extern const struct rq runqueues __ksym;
extern const int bpfld_no_such_var __ksym __weak;

int cpu = -1;
int missing_exists = -1;

SEC("raw_tp/sys_enter")
int read_rq(void *ctx)
{
	struct rq *rq = bpf_per_cpu_ptr(&runqueues, 0);

	if (rq)
		cpu = rq->cpu;
	missing_exists = bpf_ksym_exists(&bpfld_no_such_var);
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
