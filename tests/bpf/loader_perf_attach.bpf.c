/* Programs attached through perf events: kprobes, a ksyscall, tracepoints
 * and uprobes. Each counts the events of one thread, chosen before the
 * load through a .rodata variable, so a test sees exactly its own calls.
 * The uprobes record their argument and return value, which shows they ran
 * at the function's entry and at its return. */
#include "bpfld_test.h"

char LICENSE[] SEC("license") = "GPL";

/* The kernel's x86-64 struct pt_regs (the context of kprobe programs). */
struct pt_regs {
	unsigned long r15, r14, r13, r12, bp, bx, r11, r10, r9, r8;
	unsigned long ax, cx, dx, si, di, orig_ax, ip, cs, flags, sp, ss;
};

const volatile __u32 target_tid = 0;

__u64 kprobe_hits;
__u64 kretprobe_hits;
__u64 ksyscall_hits;
__u64 explicit_kprobe_hits;
__u64 tp_enter_hits;
__u64 tp_exit_hits;
__u64 uprobe_hits;
__u64 uprobe_last_arg;
__u64 uretprobe_hits;
__u64 uretprobe_last_ret;
__u64 explicit_uprobe_hits;

static __always_inline int is_target(void)
{
	return (__u32)bpf_get_current_pid_tgid() == target_tid;
}

SEC("kprobe/__x64_sys_getpgid")
int count_kprobe(struct pt_regs *ctx)
{
	if (is_target())
		__sync_fetch_and_add(&kprobe_hits, 1);
	return 0;
}

SEC("kretprobe/__x64_sys_getpgid")
int count_kretprobe(struct pt_regs *ctx)
{
	if (is_target())
		__sync_fetch_and_add(&kretprobe_hits, 1);
	return 0;
}

SEC("ksyscall/getpgid")
int count_ksyscall(struct pt_regs *ctx)
{
	if (is_target())
		__sync_fetch_and_add(&ksyscall_hits, 1);
	return 0;
}

/* No target in the section: attached with attach_kprobe(). */
SEC("kprobe")
int count_explicit_kprobe(struct pt_regs *ctx)
{
	if (is_target())
		__sync_fetch_and_add(&explicit_kprobe_hits, 1);
	return 0;
}

SEC("tracepoint/syscalls/sys_enter_getpgid")
int count_tp_enter(void *ctx)
{
	if (is_target())
		__sync_fetch_and_add(&tp_enter_hits, 1);
	return 0;
}

SEC("tp/syscalls/sys_exit_getpgid")
int count_tp_exit(void *ctx)
{
	if (is_target())
		__sync_fetch_and_add(&tp_exit_hits, 1);
	return 0;
}

/* The test binary's bpfld_uprobe_target(), found through /proc/self/exe
 * (the kernel and the loader both resolve it to the running binary). */
SEC("uprobe//proc/self/exe:bpfld_uprobe_target")
int count_uprobe(struct pt_regs *ctx)
{
	if (is_target()) {
		__sync_fetch_and_add(&uprobe_hits, 1);
		uprobe_last_arg = ctx->di;
	}
	return 0;
}

SEC("uretprobe//proc/self/exe:bpfld_uprobe_target")
int count_uretprobe(struct pt_regs *ctx)
{
	if (is_target()) {
		__sync_fetch_and_add(&uretprobe_hits, 1);
		uretprobe_last_ret = ctx->ax;
	}
	return 0;
}

/* No target in the section: attached with attach_uprobe(). */
SEC("uprobe")
int count_explicit_uprobe(struct pt_regs *ctx)
{
	if (is_target())
		__sync_fetch_and_add(&explicit_uprobe_hits, 1);
	return 0;
}
