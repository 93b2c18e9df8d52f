/* CO-RE reads of the task through vmlinux.h: plain, nested, through
 * pointers, bitfields, arrays, enum values, existence and sizes. */
#include "vmlinux.h"
#include <bpf_helpers.h>
#include <bpf_core_read.h>
#include <bpf_tracing.h>

char LICENSE[] SEC("license") = "GPL";

struct task_facts {
	int pid, tgid, ppid;
	char comm[16];
	__u64 exe_ino;
	__u64 rlim_nofile;
	__u32 reset_on_fork;
	__u32 task_size;
	__u64 nr_cpus_allowed;
	int has_pi_state;
	__u64 dyn_state;
};

struct task_facts facts;

SEC("syscall")
int read_task(void *ctx)
{
	struct task_struct *t = (void *)bpf_get_current_task();

	facts.pid = BPF_CORE_READ(t, pid);
	facts.tgid = BPF_CORE_READ(t, tgid);
	facts.ppid = BPF_CORE_READ(t, real_parent, tgid);
	BPF_CORE_READ_STR_INTO(&facts.comm, t, comm);
	facts.exe_ino = BPF_CORE_READ(t, mm, exe_file, f_inode, i_ino);
	facts.rlim_nofile = BPF_CORE_READ(t, signal, rlim[7 /* RLIMIT_NOFILE */].rlim_cur);
	facts.reset_on_fork = BPF_CORE_READ_BITFIELD_PROBED(t, sched_reset_on_fork);
	facts.task_size = bpf_core_type_size(struct task_struct);
	facts.nr_cpus_allowed = BPF_CORE_READ(t, nr_cpus_allowed);
	facts.has_pi_state = bpf_core_field_exists(t->pi_state_list);
	facts.dyn_state = bpf_core_enum_value(enum cpuhp_state, CPUHP_AP_ONLINE_DYN);
	return 0;
}

SEC("tp_btf/sched_switch")
int BPF_PROG(on_switch, bool preempt, struct task_struct *prev, struct task_struct *next)
{
	facts.pid = prev->pid + next->pid + BPF_CORE_READ(next, se.load.weight);
	return 0;
}

SEC("kprobe/do_unlinkat")
int BPF_KPROBE(on_unlink, int dfd, struct filename *name)
{
	const char *s = BPF_CORE_READ(name, name);

	bpf_probe_read_kernel_str(facts.comm, sizeof(facts.comm), s);
	return (int)PT_REGS_PARM1(ctx);
}
