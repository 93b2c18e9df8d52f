/* BTF-defined maps of several types, with initial values for map-in-map
 * slots, and programs of test-runnable types that use them. */
#include "bpfld_test.h"

char LICENSE[] SEC("license") = "GPL";

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 16);
	__type(key, __u32);
	__type(value, __u64);
} hash SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 4);
	__type(key, __u32);
	__type(value, __u64);
} array SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 4096);
} ringbuf SEC(".maps");

struct inner_map {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u64);
} inner_a SEC(".maps"), inner_b SEC(".maps");

/* Slot 0 holds inner_a, slot 1 inner_b, from the object itself. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY_OF_MAPS);
	__uint(max_entries, 2);
	__type(key, __u32);
	__array(values, struct inner_map);
} outer SEC(".maps") = {
	.values = { &inner_a, &inner_b },
};

/* Only key 3 initialised. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH_OF_MAPS);
	__uint(max_entries, 8);
	__type(key, __u32);
	__array(values, struct inner_map);
} outer_hash SEC(".maps") = {
	.values = { [3] = &inner_b },
};

/* Fills one value per map kind: hash[1] = 111, array[2] = 222, the map in
 * outer[1] gets 333 and the map in outer_hash[3] gets +1000; a ringbuf
 * record carries 444. */
SEC("syscall")
int fill_maps(void *ctx)
{
	__u32 k1 = 1, k2 = 2, k3 = 3, zero = 0, one = 1;
	__u64 v = 111, *p;
	void *in;

	bpf_map_update_elem(&hash, &k1, &v, BPF_ANY);
	p = bpf_map_lookup_elem(&array, &k2);
	if (p)
		*p = 222;
	in = bpf_map_lookup_elem(&outer, &one);
	if (in) {
		p = bpf_map_lookup_elem(in, &zero);
		if (p)
			*p = 333;
	}
	in = bpf_map_lookup_elem(&outer_hash, &k3);
	if (in) {
		p = bpf_map_lookup_elem(in, &zero);
		if (p)
			*p += 1000;
	}
	p = bpf_ringbuf_reserve(&ringbuf, sizeof(*p), 0);
	if (p) {
		*p = 444;
		bpf_ringbuf_submit(p, 0);
	}
	return 0;
}

/* Counts its runs in array[0] and passes the packet. */
SEC("xdp")
int xdp_count(struct xdp_md *ctx)
{
	__u32 k = 0;
	__u64 *p = bpf_map_lookup_elem(&array, &k);

	if (p)
		__sync_fetch_and_add(p, 1);
	return XDP_PASS;
}

/* Records the packet length in hash[2] and returns TC_ACT_SHOT (2). */
SEC("tc")
int tc_len(struct __sk_buff *skb)
{
	__u32 k = 2;
	__u64 len = skb->len;

	bpf_map_update_elem(&hash, &k, &len, BPF_ANY);
	return 2;
}
