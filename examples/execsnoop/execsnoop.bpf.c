/* execsnoop: one ring buffer record per exec(), from the
 * sched_process_exec tracepoint. */
#include <linux/types.h>
#include <linux/bpf.h>
#include <bpf_helpers.h>

char LICENSE[] SEC("license") = "GPL";

struct event {
	__u32 pid;
	__u32 old_pid;
	char comm[16];
	char filename[112];
};

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 256 * 1024);
} events SEC(".maps");

/* The tracepoint's record (tracefs events/sched/sched_process_exec/format). */
struct sched_process_exec_args {
	__u64 common;
	__u32 filename_loc; /* __data_loc char[]: offset in the low 16 bits */
	__s32 pid;
	__s32 old_pid;
};

SEC("tp/sched/sched_process_exec")
int handle_exec(struct sched_process_exec_args *ctx)
{
	struct event *e = bpf_ringbuf_reserve(&events, sizeof(*e), 0);

	if (!e)
		return 0;
	e->pid = ctx->pid;
	e->old_pid = ctx->old_pid;
	bpf_get_current_comm(e->comm, sizeof(e->comm));
	bpf_probe_read_kernel_str(e->filename, sizeof(e->filename), (void *)ctx + (ctx->filename_loc & 0xffff));
	bpf_ringbuf_submit(e, 0);
	return 0;
}
