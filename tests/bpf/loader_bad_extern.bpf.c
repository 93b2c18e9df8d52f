/* Refers to a variable no one defines: opening must name the symbol. */
#include "bpfld_test.h"

char LICENSE[] SEC("license") = "GPL";

extern int nowhere_defined_var;

SEC("syscall")
int uses_missing(void *ctx)
{
	return nowhere_defined_var;
}
