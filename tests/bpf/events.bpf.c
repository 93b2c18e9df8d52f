/* Event sources for the ring buffer, user ring buffer and perf buffer
 * tests. The tracepoint programs count, per CPU, every record they try to
 * produce and every one the kernel refused, so a test can check that each
 * record produced was read or reported lost. Only the test's own process
 * (target_tgid, a .rodata setting) produces. */
#include "bpfld_test.h"

char LICENSE[] SEC("license") = "GPL";

const volatile __u32 target_tgid = 0;

struct record {
	__u64 seq;
	__u32 cpu;
	__u32 magic;
};

/* Large enough that a few seconds of getpgid() calls never fill it. */
struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 64 << 20);
} rb SEC(".maps");

/* One page: records of 40 bytes wrap around its end. */
struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 4096);
} small_rb SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_USER_RINGBUF);
	__uint(max_entries, 4096);
} user_rb SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERF_EVENT_ARRAY);
	__uint(key_size, sizeof(__u32));
	__uint(value_size, sizeof(__u32));
} perf SEC(".maps");

/* Index 0: records attempted, 1: refused by the kernel (ring full). */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 2);
	__type(key, __u32);
	__type(value, __u64);
} rb_stats SEC(".maps"), perf_stats SEC(".maps");

static __always_inline int is_target(void)
{
	return (bpf_get_current_pid_tgid() >> 32) == target_tgid;
}

static __always_inline void count(void *stats, __u32 idx)
{
	__u64 *v = bpf_map_lookup_elem(stats, &idx);

	if (v)
		*v += 1;
}

SEC("tp/syscalls/sys_enter_getpgid")
int rb_produce(void *ctx)
{
	struct record *r;
	__u64 *seq;
	__u32 zero = 0;

	if (!is_target())
		return 0;
	seq = bpf_map_lookup_elem(&rb_stats, &zero);
	if (!seq)
		return 0;
	*seq += 1;
	r = bpf_ringbuf_reserve(&rb, sizeof(*r), 0);
	if (!r) {
		count(&rb_stats, 1);
		return 0;
	}
	r->seq = *seq;
	r->cpu = bpf_get_smp_processor_id();
	r->magic = 0xfeedbeef;
	bpf_ringbuf_submit(r, 0);
	return 0;
}

SEC("tp/syscalls/sys_enter_getppid")
int perf_produce(void *ctx)
{
	struct record r = {};
	__u64 *seq;
	__u32 zero = 0;

	if (!is_target())
		return 0;
	seq = bpf_map_lookup_elem(&perf_stats, &zero);
	if (!seq)
		return 0;
	*seq += 1;
	r.seq = *seq;
	r.cpu = bpf_get_smp_processor_id();
	r.magic = 0xfeedbeef;
	if (bpf_perf_event_output(ctx, &perf, BPF_F_CURRENT_CPU, &r, sizeof(r)))
		count(&perf_stats, 1);
	return 0;
}

/* emit_records: `emit_count` records of 40 bytes into small_rb, numbered
 * from `emit_next`; the odd ones are reserved and discarded. */
__u32 emit_count;
__u64 emit_next;

struct big_record {
	__u64 seq;
	__u64 fill[4];
};

static long emit_one(__u32 i, void *ctx)
{
	struct big_record *r = bpf_ringbuf_reserve(&small_rb, sizeof(*r), 0);
	__u64 seq = emit_next++;

	if (!r)
		return 1;
	r->seq = seq;
	r->fill[0] = ~seq;
	r->fill[1] = seq * 3;
	r->fill[2] = seq ^ 0x5555;
	r->fill[3] = seq + 7;
	if (seq & 1)
		bpf_ringbuf_discard(r, 0);
	else
		bpf_ringbuf_submit(r, 0);
	return 0;
}

SEC("syscall")
int emit_records(void *ctx)
{
	return bpf_loop(emit_count, emit_one, 0, 0);
}

/* emit_varied: `emit_count` records of 1 to 47 bytes into small_rb, of
 * sizes that change unpredictably (the consumer predicts the next record
 * to be the size of the last), numbered from `emit_next` in their first
 * byte and filled with it. */
static long emit_varied_one(__u32 i, void *ctx)
{
	__u8 buf[56];
	__u64 seq = emit_next++;
	__u64 mix = seq * 13 + (seq >> 2);
	/* 1 to 47, bounds the verifier sees from the masks. */
	__u64 size = 1 + (mix & 31) + ((mix >> 5) & 15);

	__builtin_memset(buf, (__u8)seq, sizeof(buf));
	if (bpf_ringbuf_output(&small_rb, buf, size, 0))
		return 1;
	return 0;
}

SEC("syscall")
int emit_varied(void *ctx)
{
	return bpf_loop(emit_count, emit_varied_one, 0, 0);
}

/* drain_user: sums what user space wrote to user_rb (u64 values). */
__u64 drained_sum;
__u64 drained_count;

static long drain_one(struct bpf_dynptr *dynptr, void *ctx)
{
	__u64 v;

	if (bpf_dynptr_read(&v, sizeof(v), dynptr, 0, 0))
		return 1;
	drained_sum += v;
	drained_count += 1;
	return 0;
}

SEC("syscall")
int drain_user(void *ctx)
{
	return bpf_user_ringbuf_drain(&user_rb, drain_one, 0, 0);
}

/* The ring buffer benchmark's producer: fill_bench writes `bench_count`
 * 16-byte records into bench_rb as fast as bpf_loop goes. */
struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 64 << 20);
} bench_rb SEC(".maps");

__u32 bench_count;
__u64 bench_refused;

static long bench_one(__u32 i, void *ctx)
{
	__u64 *r = bpf_ringbuf_reserve(&bench_rb, 16, 0);

	if (!r) {
		bench_refused++;
		return 1;
	}
	r[0] = i;
	r[1] = ~(__u64)i;
	bpf_ringbuf_submit(r, 0);
	return 0;
}

SEC("syscall")
int fill_bench(void *ctx)
{
	return bpf_loop(bench_count, bench_one, 0, 0);
}
