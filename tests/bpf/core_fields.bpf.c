/* CO-RE field relocations on real kernel structs, declared by hand (no
 * vmlinux.h): byte offsets and sizes through pointers, arrays of structs
 * and anonymous members, bitfields, field existence guarding a field no
 * kernel has, `___flavor` types of which only one exists on a given
 * kernel, and a load whose width follows the kernel's field size.
 *
 * Every program is SEC("syscall") and writes what it computed or read into
 * .bss, so that a BPF_PROG_TEST_RUN from a test thread can compare it with
 * the kernel's BTF and with what the thread knows about itself (tid, pid,
 * RLIMIT_NOFILE, comm, stat("/proc/self/exe"), SCHED_RESET_ON_FORK). */
#include "bpfld_test.h"
#include <bpf_core_read.h>

char LICENSE[] SEC("license") = "GPL";

#define __core __attribute__((preserve_access_index))

struct rlimit {
	unsigned long rlim_cur;
	unsigned long rlim_max;
} __core;

struct signal_struct {
	int nr_threads;
	struct rlimit rlim[16];
} __core;

struct file;

struct mm_struct {
	struct file *exe_file;
} __core;

struct task_struct {
	unsigned int flags;
	/* A real kernel bitfield; SCHED_RESET_ON_FORK sets it. */
	unsigned sched_reset_on_fork:1;
	int pid;
	int tgid;
	char comm[16];
	struct mm_struct *mm;
	struct signal_struct *signal;
	/* No kernel has this: only reachable behind bpf_core_field_exists. */
	long bpfld_no_such_field;
} __core;

struct file {
	struct inode *f_inode;
} __core;

struct timespec64 {
	long long tv_sec;
	long tv_nsec;
} __core;

/* The inode change time moved twice: `i_ctime` (timespec64) until 6.5,
 * `__i_ctime` in 6.6-6.10, `i_ctime_sec`/`i_ctime_nsec` from 6.11. Each
 * flavor describes one era; CO-RE matches all of them against the
 * kernel's `struct inode` and only the fields that exist resolve. The
 * anonymous union around i_nlink mirrors the kernel's. */
struct inode___old {
	unsigned long i_ino;
	union {
		const unsigned int i_nlink;
		unsigned int __i_nlink;
	};
	struct timespec64 i_ctime;
} __core;

struct inode___mid {
	struct timespec64 __i_ctime;
} __core;

struct inode___new {
	unsigned long i_ino;
	long long i_ctime_sec;
	unsigned int i_ctime_nsec;
} __core;

/* The same rlimit array, declared with 32-bit fields: the loads of
 * rlim_cur must be widened to the kernel's 64 bits (unsigned, so this is
 * allowed) and the element stride follows the kernel's struct size. */
struct rlimit___u32 {
	unsigned int rlim_cur;
	unsigned int rlim_max;
} __core;

struct signal_struct___u32 {
	struct rlimit___u32 rlim[16];
} __core;

struct task_struct___u32 {
	struct signal_struct___u32 *signal;
	int pid;
} __core;

#define RLIMIT_NOFILE 7

/* fields: offsets and sizes (from BTF), values (from the current task). */
__u64 pid_offset, pid_size, comm_offset, comm_size, signal_offset;
__u64 rlim_offset, rlim_size, nofile_cur_offset, mm_exe_file_offset;
__s64 pid, tgid;
__u64 nofile_cur, nofile_max;
char comm[16];

SEC("syscall")
int fields(void *ctx)
{
	struct task_struct *t = (void *)bpf_get_current_task();

	pid_offset = bpf_core_field_offset(t->pid);
	pid_size = bpf_core_field_size(t->pid);
	comm_offset = bpf_core_field_offset(t->comm);
	comm_size = bpf_core_field_size(t->comm);
	signal_offset = bpf_core_field_offset(t->signal);
	rlim_offset = bpf_core_field_offset(struct signal_struct, rlim);
	rlim_size = bpf_core_field_size(struct signal_struct, rlim);
	nofile_cur_offset = bpf_core_field_offset(struct signal_struct, rlim[RLIMIT_NOFILE].rlim_cur);
	mm_exe_file_offset = bpf_core_field_offset(struct mm_struct, exe_file);

	pid = BPF_CORE_READ(t, pid);
	tgid = BPF_CORE_READ(t, tgid);
	nofile_cur = BPF_CORE_READ(t, signal, rlim[RLIMIT_NOFILE].rlim_cur);
	nofile_max = BPF_CORE_READ(t, signal, rlim[RLIMIT_NOFILE].rlim_max);
	bpf_core_read_str(comm, sizeof(comm), &t->comm);
	return 0;
}

/* direct: loads through a BTF pointer, so the relocations sit on LDX
 * instructions (offsets patched, rlim_cur widened from 4 to 8 bytes). */
__s64 direct_pid;
__u64 direct_nofile_cur;

SEC("syscall")
int direct(void *ctx)
{
	struct task_struct___u32 *t = (void *)bpf_get_current_task_btf();

	direct_pid = t->pid;
	direct_nofile_cur = t->signal->rlim[RLIMIT_NOFILE].rlim_cur;
	return 0;
}

/* bitfields: sched_reset_on_fork read through CO-RE bitfield relocations,
 * and the relocated values themselves. */
__u64 reset_on_fork;
__u64 bf_byte_offset, bf_byte_size, bf_lshift, bf_rshift, bf_signed;

SEC("syscall")
int bitfields(void *ctx)
{
	struct task_struct *t = (void *)bpf_get_current_task();

	reset_on_fork = BPF_CORE_READ_BITFIELD_PROBED(t, sched_reset_on_fork);
	bf_byte_offset = __builtin_preserve_field_info(t->sched_reset_on_fork, BPF_FIELD_BYTE_OFFSET);
	bf_byte_size = __builtin_preserve_field_info(t->sched_reset_on_fork, BPF_FIELD_BYTE_SIZE);
	bf_lshift = __builtin_preserve_field_info(t->sched_reset_on_fork, BPF_FIELD_LSHIFT_U64);
	bf_rshift = __builtin_preserve_field_info(t->sched_reset_on_fork, BPF_FIELD_RSHIFT_U64);
	bf_signed = __builtin_preserve_field_info(t->sched_reset_on_fork, BPF_FIELD_SIGNED);
	return 0;
}

/* exists: field existence, including a field no kernel has whose read is
 * poisoned and must be dead code. */
__u64 has_pid, has_missing, has_ctime_old, has_ctime_mid, has_ctime_new;
__s64 missing_value;

SEC("syscall")
int exists(void *ctx)
{
	struct task_struct *t = (void *)bpf_get_current_task();

	has_pid = bpf_core_field_exists(t->pid);
	has_missing = bpf_core_field_exists(t->bpfld_no_such_field);
	has_ctime_old = bpf_core_field_exists(struct inode___old, i_ctime);
	has_ctime_mid = bpf_core_field_exists(struct inode___mid, __i_ctime);
	has_ctime_new = bpf_core_field_exists(struct inode___new, i_ctime_sec);
	if (bpf_core_field_exists(t->bpfld_no_such_field))
		missing_value = BPF_CORE_READ(t, bpfld_no_such_field);
	else
		missing_value = -1;
	return 0;
}

/* flavors: the executable's inode change time, read with whichever inode
 * flavor the kernel has (1 = old, 2 = mid, 3 = new), plus its inode number
 * and link count (through the anonymous union). */
__u64 ctime_flavor, exe_ino, exe_nlink;
__s64 exe_ctime_sec;

SEC("syscall")
int flavors(void *ctx)
{
	struct task_struct *t = (void *)bpf_get_current_task();
	void *inode = BPF_CORE_READ(t, mm, exe_file, f_inode);

	if (bpf_core_field_exists(struct inode___new, i_ctime_sec)) {
		ctime_flavor = 3;
		exe_ctime_sec = BPF_CORE_READ((struct inode___new *)inode, i_ctime_sec);
	} else if (bpf_core_field_exists(struct inode___mid, __i_ctime)) {
		ctime_flavor = 2;
		exe_ctime_sec = BPF_CORE_READ((struct inode___mid *)inode, __i_ctime.tv_sec);
	} else if (bpf_core_field_exists(struct inode___old, i_ctime)) {
		ctime_flavor = 1;
		exe_ctime_sec = BPF_CORE_READ((struct inode___old *)inode, i_ctime.tv_sec);
	}
	exe_ino = BPF_CORE_READ((struct inode___old *)inode, i_ino);
	exe_nlink = BPF_CORE_READ((struct inode___old *)inode, __i_nlink);
	return 0;
}
