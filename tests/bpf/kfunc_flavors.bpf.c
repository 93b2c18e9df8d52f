// SPDX-License-Identifier: GPL-2.0
/* The fleet pattern: three flavors of one kfunc, one per prototype the
 * kernel has had (or might have), and the loader binds the one the running
 * kernel has. On a kernel with bpf_task_acquire(struct task_struct *),
 * ___one resolves, ___two and ___three do not: their bpf_ksym_exists() is
 * 0 and the verifier removes their branches. On a kernel without
 * bpf_task_acquire at all (6.1), every flavor falls back. */
#include "bpfld_test.h"

/* A struct with a body: libbpf (and bpfld) treat a forward declaration
 * as incompatible with the kernel's struct in kfunc prototypes. */
struct task_struct {
	int pid;
};

extern struct task_struct *bpf_task_acquire___one(struct task_struct *task) __ksym __weak;
extern struct task_struct *bpf_task_acquire___two(struct task_struct *p, int x) __ksym __weak;
extern struct task_struct *bpf_task_acquire___three(void *ctx) __ksym __weak;
extern void bpf_task_release(struct task_struct *p) __ksym __weak;

/* Which flavor ran (1, 2, 3), 0 if none exists, -1 before any run. */
int flavor = -1;
int acquired;

SEC("tp_btf/task_newtask")
int acquire_any(__u64 *ctx)
{
	struct task_struct *task = (void *)ctx[0], *t = 0;

	if (bpf_ksym_exists(bpf_task_acquire___one)) {
		t = bpf_task_acquire___one(task);
		flavor = 1;
	} else if (bpf_ksym_exists(bpf_task_acquire___two)) {
		t = bpf_task_acquire___two(task, 0);
		flavor = 2;
	} else if (bpf_ksym_exists(bpf_task_acquire___three)) {
		t = bpf_task_acquire___three(ctx);
		flavor = 3;
	} else {
		flavor = 0;
	}
	if (t) {
		acquired++;
		if (bpf_ksym_exists(bpf_task_release))
			bpf_task_release(t);
	}
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
