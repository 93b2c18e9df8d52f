/* Global data in every section libbpf turns into a map: .data, .rodata,
 * .bss, .data.<custom>, .rodata.<custom>. The programs combine them so a
 * test run shows which values the kernel saw (initial values, values set
 * before load, values written through the mmap after load). */
#include "bpfld_test.h"

char LICENSE[] SEC("license") = "GPL";

int data_var = 42;                                    /* .data */
const volatile int rodata_var = 7;                    /* .rodata */
int bss_var;                                          /* .bss */
int custom_data SEC(".data.custom") = 100;            /* .data.custom */
const volatile int custom_ro SEC(".rodata.custom") = 200; /* .rodata.custom */
__u64 data_arr[4] = { 1, 2, 3, 4 };                   /* .data */
__u64 sum_out;                                        /* .bss */
__u64 runs;                                           /* .bss */

/* Writes what it reads into .bss and bumps .data, so that one run checks
 * every section's value and that .data/.bss are writable by programs. */
SEC("syscall")
int read_globals(void *ctx)
{
	bss_var = data_var + rodata_var + custom_data + custom_ro;
	sum_out = data_arr[0] + data_arr[1] + data_arr[2] + data_arr[3];
	data_var += 1;
	custom_data += 1;
	runs++;
	return 0;
}

/* A second program in the same section sharing the same globals. */
SEC("syscall")
int bump_runs(void *ctx)
{
	runs += 10;
	return rodata_var;
}
