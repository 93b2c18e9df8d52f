// SPDX-License-Identifier: GPL-2.0
/* A strong (non-weak) flavor whose prototype the kernel does not have:
 * the load must fail naming the full flavored extern. */
#include "bpfld_test.h"

/* A struct with a body: libbpf (and bpfld) treat a forward declaration
 * as incompatible with the kernel's struct in kfunc prototypes. */
struct task_struct {
	int pid;
};

extern struct task_struct *bpf_task_acquire___wrong(struct task_struct *p, int flags) __ksym;
extern void bpf_task_release(struct task_struct *p) __ksym;

SEC("tp_btf/task_newtask")
int acquire_wrong(__u64 *ctx)
{
	struct task_struct *t = bpf_task_acquire___wrong((void *)ctx[0], 0);

	if (t)
		bpf_task_release(t);
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
