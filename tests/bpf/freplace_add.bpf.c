/* An extension of loader_subprogs: replaces its global function
 * global_add(a, b) (a + b) with a * b + 1000, so that run_global, which
 * stores global_add(40, 2) + 100, stores 1180 instead of 142 while the
 * replacement is attached. Loaded with the target program given
 * (set_attach_target), as libbpf's bpf_program__set_attach_target. */
#include "bpfld_test.h"

char LICENSE[] SEC("license") = "GPL";

SEC("freplace/global_add")
int new_add(int a, int b)
{
	return a * b + 1000;
}

/* The same, naming no function: it is given with the target program. */
SEC("freplace")
int new_add_unnamed(int a, int b)
{
	return a * b + 2000;
}
