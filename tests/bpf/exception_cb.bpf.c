/* An exception callback: nothing calls exception_cb_handler, only the decl
 * tag of throwing() names it (the kernel's __exception_cb), so a loader
 * must append it to throwing() with its func_info. A packet whose first
 * byte is 1 makes the program throw with the packet's length as cookie;
 * the program then returns what the callback returns (cookie + 100). */
#include "bpfld_test.h"

#define __exception_cb(name) __attribute__((btf_decl_tag("exception_callback:" #name)))

char LICENSE[] SEC("license") = "GPL";

extern void bpf_throw(__u64 cookie) __ksym;

/* Global and not hidden, as the verifier wants exception callbacks. */
int exception_cb_handler(__u64 cookie)
{
	return cookie + 100;
}

static __noinline int first_byte(struct __sk_buff *skb)
{
	__u8 b = 0;

	bpf_skb_load_bytes(skb, 0, &b, 1);
	return b;
}

SEC("tc")
__exception_cb(exception_cb_handler)
int throwing(struct __sk_buff *skb)
{
	if (first_byte(skb) == 1)
		bpf_throw(skb->len);
	return 7;
}
