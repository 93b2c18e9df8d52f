/* One map of every type the typed map API handles, and a syscall program
 * that reads what user space wrote into them, so the tests check values
 * both ways: written by user space, seen by a program, and back. */
#include "bpfld_test.h"

char LICENSE[] SEC("license") = "GPL";

struct pair {
	__u32 a;
	__u32 b;
};

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 4096);
	__type(key, __u32);
	__type(value, struct pair);
} hash SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 64);
	__type(key, __u64);
	__type(value, __u64);
} lru SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 8);
	__type(key, __u32);
	__type(value, __u64);
} array SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_HASH);
	__uint(max_entries, 16);
	__type(key, __u32);
	__type(value, __u32);
} percpu_hash SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 4);
	__type(key, __u32);
	__type(value, __u64);
} percpu_array SEC(".maps");

struct lpm_key {
	__u32 prefixlen;
	__u32 addr;
};

struct {
	__uint(type, BPF_MAP_TYPE_LPM_TRIE);
	__uint(max_entries, 16);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, struct lpm_key);
	__type(value, __u32);
} lpm SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_QUEUE);
	__uint(max_entries, 8);
	__type(value, __u32);
} queue SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_STACK);
	__uint(max_entries, 8);
	__type(value, __u32);
} stack SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_BLOOM_FILTER);
	__uint(max_entries, 64);
	__uint(map_extra, 3);
	__type(value, __u32);
} bloom SEC(".maps");

struct inner {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u64);
} inner_a SEC(".maps"), inner_b SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY_OF_MAPS);
	__uint(max_entries, 2);
	__type(key, __u32);
	__array(values, struct inner);
} outer SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH_OF_MAPS);
	__uint(max_entries, 4);
	__type(key, __u32);
	__array(values, struct inner);
} outer_hash SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PROG_ARRAY);
	__uint(max_entries, 2);
	__type(key, __u32);
	__type(value, __u32);
} jump SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_SOCKMAP);
	__uint(max_entries, 4);
	__type(key, __u32);
	__type(value, __u64);
} socks SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_SOCKHASH);
	__uint(max_entries, 4);
	__type(key, __u32);
	__type(value, __u64);
} sockhash SEC(".maps");

/* What probe_maps saw. */
__u32 seen_hash_b;
__u32 seen_queue;
__u32 seen_bloom;
__u32 seen_lpm;
__u64 seen_inner;
__u32 seen_tail;

SEC("xdp")
int tail_target(struct xdp_md *ctx)
{
	seen_tail = 77;
	return XDP_PASS;
}

SEC("xdp")
int probe_maps(struct xdp_md *ctx)
{
	__u32 k7 = 7, zero = 0, one = 1, fortytwo = 42;
	struct lpm_key lk = { .prefixlen = 32, .addr = 0x0302010a }; /* 10.1.2.3 */
	struct pair *p;
	__u32 *v32;
	__u64 *v64;
	void *in;

	p = bpf_map_lookup_elem(&hash, &k7);
	if (p)
		seen_hash_b = p->b;
	if (bpf_map_pop_elem(&queue, &seen_queue))
		seen_queue = 0;
	seen_bloom = bpf_map_peek_elem(&bloom, &fortytwo) == 0;
	v32 = bpf_map_lookup_elem(&lpm, &lk);
	if (v32)
		seen_lpm = *v32;
	in = bpf_map_lookup_elem(&outer, &one);
	if (in) {
		v64 = bpf_map_lookup_elem(in, &zero);
		if (v64)
			seen_inner = *v64;
	}
	bpf_tail_call(ctx, &jump, 0);
	return XDP_PASS;
}

/* A value of every shape bpfld::map_dump decodes. */
enum color { RED = 1, GREEN = 2 };

struct shapes {
	int neg;
	enum color color;
	char name[8];
	unsigned int low : 3, high : 5;
	int sbits : 4;
	_Bool flag;
	__u16 arr[2];
};

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 2);
	__type(key, __u32);
	__type(value, struct shapes);
} decoded SEC(".maps");
