/* Tracing attach tests: iterators that print every task (pid, tgid,
 * comm) and every map (id, name); a perf_event program counting
 * cpu-clock samples; kprobe.multi and uprobe.multi programs counting
 * calls of the test's own thread. */
#include "bpfld_test.h"
#include <bpf_tracing.h>

char LICENSE[] SEC("license") = "GPL";

const volatile __u32 target_tid = 0;

__u64 samples;
__u64 kmulti_hits;
__u64 umulti_hits;

struct seq_file;
struct bpf_iter_meta {
	struct seq_file *seq;
} __attribute__((preserve_access_index));

struct task_struct {
	int pid;
	int tgid;
	char comm[16];
} __attribute__((preserve_access_index));

struct bpf_iter__task {
	struct bpf_iter_meta *meta;
	struct task_struct *task;
} __attribute__((preserve_access_index));

struct bpf_map {
	__u32 id;
	char name[16];
} __attribute__((preserve_access_index));

struct bpf_iter__bpf_map {
	struct bpf_iter_meta *meta;
	struct bpf_map *map;
} __attribute__((preserve_access_index));

SEC("iter/task")
int list_tasks(struct bpf_iter__task *ctx)
{
	struct task_struct *task = ctx->task;

	if (!task)
		return 0;
	BPF_SEQ_PRINTF(ctx->meta->seq, "%d %d %s\n", task->tgid, task->pid, task->comm);
	return 0;
}

SEC("iter/bpf_map")
int list_maps(struct bpf_iter__bpf_map *ctx)
{
	struct bpf_map *map = ctx->map;

	if (!map)
		return 0;
	BPF_SEQ_PRINTF(ctx->meta->seq, "%u %s\n", map->id, map->name);
	return 0;
}

SEC("perf_event")
int count_samples(void *ctx)
{
	__sync_fetch_and_add(&samples, 1);
	return 0;
}

SEC("kprobe.multi/__x64_sys_getpgi?")
int count_kmulti(void *ctx)
{
	if ((__u32)bpf_get_current_pid_tgid() == target_tid)
		__sync_fetch_and_add(&kmulti_hits, 1);
	return 0;
}

/* Attached by the test to functions of its own binary. */
SEC("uprobe.multi")
int count_umulti(void *ctx)
{
	if ((__u32)bpf_get_current_pid_tgid() == target_tid)
		__sync_fetch_and_add(&umulti_hits, 1);
	return 0;
}
