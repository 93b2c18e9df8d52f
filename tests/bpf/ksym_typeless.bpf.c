// SPDX-License-Identifier: GPL-2.0
/* Typeless ksyms: addresses from kallsyms. `schedule` is a text symbol,
 * listed in /proc/kallsyms even without CONFIG_KALLSYMS_ALL. */
#include "bpfld_test.h"

extern const void schedule __ksym;
extern const void bpfld_no_such_symbol __ksym __weak;

__u64 schedule_addr;
__u64 missing_addr = 1;

SEC("syscall")
int read_addrs(void *ctx)
{
	schedule_addr = (__u64)&schedule;
	missing_addr = (__u64)&bpfld_no_such_symbol;
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
