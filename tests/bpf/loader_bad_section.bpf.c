/* A program in a section no program type matches, next to a good one. */
#include "bpfld_test.h"

char LICENSE[] SEC("license") = "GPL";

SEC("not_a_program_type")
int in_unknown_section(void *ctx)
{
	return 0;
}

SEC("syscall")
int in_known_section(void *ctx)
{
	return 0;
}
