/* What `bpfld run` shows: a tracepoint program that sends each getppid()
 * caller's pid through a ring buffer and a perf buffer, counts calls per
 * pid in a hash map (a struct value, decoded with BTF in the dump) and
 * per CPU in a per-CPU array. */
#include "bpfld_test.h"

char LICENSE[] SEC("license") = "GPL";

struct event {
	__u32 pid;
	__u32 tag;
};

struct stats {
	__u64 calls;
	__u32 last_cpu;
	__u32 pad;
};

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 1 << 20);
} events SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERF_EVENT_ARRAY);
	__uint(key_size, sizeof(__u32));
	__uint(value_size, sizeof(__u32));
} perf_events SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 1024);
	__type(key, __u32);
	__type(value, struct stats);
} counts SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u64);
} per_cpu SEC(".maps");

__u64 total; /* global data: not dumped */

SEC("tp/syscalls/sys_enter_getppid")
int on_getppid(void *ctx)
{
	struct event e = { .pid = bpf_get_current_pid_tgid() >> 32, .tag = 0xabcd };
	struct stats init = {}, *s;
	__u32 zero = 0;
	__u64 *c;

	bpf_ringbuf_output(&events, &e, sizeof(e), 0);
	bpf_perf_event_output(ctx, &perf_events, BPF_F_CURRENT_CPU, &e, sizeof(e));
	s = bpf_map_lookup_elem(&counts, &e.pid);
	if (!s) {
		bpf_map_update_elem(&counts, &e.pid, &init, BPF_NOEXIST);
		s = bpf_map_lookup_elem(&counts, &e.pid);
	}
	if (s) {
		__sync_fetch_and_add(&s->calls, 1);
		s->last_cpu = bpf_get_smp_processor_id();
	}
	c = bpf_map_lookup_elem(&per_cpu, &zero);
	if (c)
		*c += 1;
	total++;
	return 0;
}
