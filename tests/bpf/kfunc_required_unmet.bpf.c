// SPDX-License-Identifier: GPL-2.0
/* A required flavor group that no kernel satisfies: the load must fail,
 * listing both flavors and why each did not bind. */
#include "bpfld_test.h"

/* A struct with a body: libbpf (and bpfld) treat a forward declaration
 * as incompatible with the kernel's struct in kfunc prototypes. */
struct task_struct {
	int pid;
};

extern struct task_struct *bpf_task_acquire___bad1(int pid) __ksym __weak
	__bpfld_require_one("acquire");
extern struct task_struct *bpf_task_acquire___bad2(void *p, void *q) __ksym __weak
	__bpfld_require_one("acquire");

int flavor = -1;

SEC("tp_btf/task_newtask")
int acquire_unmet(__u64 *ctx)
{
	if (bpf_ksym_exists(bpf_task_acquire___bad1))
		flavor = 1;
	else if (bpf_ksym_exists(bpf_task_acquire___bad2))
		flavor = 2;
	else
		flavor = 0;
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
