// SPDX-License-Identifier: GPL-2.0
/* Weak kfuncs that no kernel has. `guarded` calls one behind
 * bpf_ksym_exists(): the call is poisoned but dead, the program loads and
 * returns the fallback. `unguarded` calls one unconditionally: the verifier
 * reaches the poisoned call, and the loader rewrites the verifier log to
 * name the missing kfunc. Both are in one object; `unguarded` is marked
 * "?" (not autoloaded) so the object loads, and tests load it explicitly.
 * Also: a double flavor suffix, whose essential name keeps the first
 * suffix (bpf_task_release___v1___compat looks up bpf_task_release___v1,
 * which does not exist). */
#include "bpfld_test.h"

/* A struct with a body: libbpf (and bpfld) treat a forward declaration
 * as incompatible with the kernel's struct in kfunc prototypes. */
struct task_struct {
	int pid;
};

extern int bpfld_missing_kfunc(int x) __ksym __weak;
extern int bpfld_missing_kfunc___v2(int x, int y) __ksym __weak;
extern void bpf_task_release___v1___compat(struct task_struct *p) __ksym __weak;
extern void bpf_rcu_read_lock___compat(void) __ksym __weak;
extern void bpf_rcu_read_unlock(void) __ksym __weak;

int result = -1;
int double_suffix_exists = -1;
int single_suffix_exists = -1;

SEC("syscall")
int guarded(void *ctx)
{
	if (bpf_ksym_exists(bpfld_missing_kfunc))
		result = bpfld_missing_kfunc(1);
	else if (bpf_ksym_exists(bpfld_missing_kfunc___v2))
		result = bpfld_missing_kfunc___v2(1, 2);
	else
		result = 42;
	double_suffix_exists = bpf_ksym_exists(bpf_task_release___v1___compat);
	single_suffix_exists = bpf_ksym_exists(bpf_rcu_read_lock___compat);
	if (bpf_ksym_exists(bpf_rcu_read_lock___compat) && bpf_ksym_exists(bpf_rcu_read_unlock)) {
		bpf_rcu_read_lock___compat();
		bpf_rcu_read_unlock();
	}
	return 0;
}

SEC("?syscall")
int unguarded(void *ctx)
{
	result = bpfld_missing_kfunc(2);
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
