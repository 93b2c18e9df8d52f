/* An fentry program (attach target found by BTF id at load time) counting
 * getpgid() calls of one thread, chosen before the load. Some kernels
 * refuse trampoline programs (fentry, fexit, lsm) outright. */
#include "bpfld_test.h"

char LICENSE[] SEC("license") = "GPL";

const volatile __u32 target_tid = 0;

__u64 fentry_hits;

SEC("fentry/__x64_sys_getpgid")
int count_getpgid(void *ctx)
{
	if ((__u32)bpf_get_current_pid_tgid() == target_tid)
		__sync_fetch_and_add(&fentry_hits, 1);
	return 0;
}
