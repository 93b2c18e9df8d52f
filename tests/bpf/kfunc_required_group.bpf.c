// SPDX-License-Identifier: GPL-2.0
/* Required flavor groups declared in the source: among the externs tagged
 * with the same group, at least one must resolve, or bpfld fails the load
 * listing each flavor and why it did not bind. "acquire" can be met by the
 * kernels that have bpf_task_acquire; "impossible" never is. The
 * "impossible" program is in a "?" section so that tests choose whether
 * its group is required by loading it. */
#include "bpfld_test.h"

/* A struct with a body: libbpf (and bpfld) treat a forward declaration
 * as incompatible with the kernel's struct in kfunc prototypes. */
struct task_struct {
	int pid;
};

extern struct task_struct *bpf_task_acquire___one(struct task_struct *task) __ksym __weak
	__bpfld_require_one("acquire");
extern struct task_struct *bpf_task_acquire___two(struct task_struct *p, int x) __ksym __weak
	__bpfld_require_one("acquire");
extern void bpf_task_release(struct task_struct *p) __ksym __weak;

int flavor = -1;

SEC("tp_btf/task_newtask")
int acquire_required(__u64 *ctx)
{
	struct task_struct *task = (void *)ctx[0], *t = 0;

	if (bpf_ksym_exists(bpf_task_acquire___one)) {
		t = bpf_task_acquire___one(task);
		flavor = 1;
	} else if (bpf_ksym_exists(bpf_task_acquire___two)) {
		t = bpf_task_acquire___two(task, 0);
		flavor = 2;
	}
	if (t && bpf_ksym_exists(bpf_task_release))
		bpf_task_release(t);
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
