/* runqlat: how long tasks wait on a run queue between being woken up and
 * running, as a log2 histogram of microseconds in a per-CPU array, from
 * the BTF-typed scheduler tracepoints. */
#include <linux/types.h>
#include <linux/bpf.h>
#include <bpf_helpers.h>
#include <bpf_core_read.h>

char LICENSE[] SEC("license") = "GPL";

#define SLOTS 32

/* Only the field used; CO-RE finds it in the running kernel's layout. */
struct task_struct {
	int pid;
} __attribute__((preserve_access_index));

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 10240);
	__type(key, __u32);
	__type(value, __u64);
} wakeup_ns SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, SLOTS);
	__type(key, __u32);
	__type(value, __u64);
} hist SEC(".maps");

static __always_inline int woken(struct task_struct *p)
{
	__u32 pid = BPF_CORE_READ(p, pid);
	__u64 now = bpf_ktime_get_ns();

	if (pid)
		bpf_map_update_elem(&wakeup_ns, &pid, &now, BPF_ANY);
	return 0;
}

SEC("tp_btf/sched_wakeup")
int handle_wakeup(__u64 *ctx)
{
	return woken((struct task_struct *)ctx[0]);
}

SEC("tp_btf/sched_wakeup_new")
int handle_wakeup_new(__u64 *ctx)
{
	return woken((struct task_struct *)ctx[0]);
}

SEC("tp_btf/sched_switch")
int handle_switch(__u64 *ctx)
{
	struct task_struct *next = (struct task_struct *)ctx[2];
	__u32 pid = BPF_CORE_READ(next, pid);
	__u64 *ts, delta_us, *slot;
	__u32 i = 0;

	ts = bpf_map_lookup_elem(&wakeup_ns, &pid);
	if (!ts)
		return 0;
	delta_us = (bpf_ktime_get_ns() - *ts) / 1000;
	bpf_map_delete_elem(&wakeup_ns, &pid);
	while (delta_us > 1 && i < SLOTS - 1) {
		delta_us >>= 1;
		i++;
	}
	slot = bpf_map_lookup_elem(&hist, &i);
	if (slot)
		*slot += 1;
	return 0;
}
