/* CO-RE relocations against types that live in module BTF on some
 * kernels: `struct bbr` (tcp_bbr: a module on Debian's 6.1 and 6.12,
 * built in on the 6.18 host), `struct dctcp` (tcp_dctcp: 28 bytes on 6.1,
 * 36 with `plb` on 6.12, a module not loaded on the host), and `struct
 * file_system_type`, which vmlinux has and the nf_conntrack module of 6.1
 * repeats: found in vmlinux, the module is never searched.
 *
 * Every access is guarded by bpf_core_type_exists, so the program loads
 * whether or not the modules are there; the values go to .bss. */
#include "bpfld_test.h"
#include <bpf_core_read.h>

char LICENSE[] SEC("license") = "GPL";

#define __core __attribute__((preserve_access_index))

struct bbr {
	unsigned int min_rtt_us;
	unsigned int mode:3;
} __core;

struct tcp_plb_state {
	unsigned int pause_until;
} __core;

struct dctcp {
	unsigned int old_delivered;
	unsigned int loss_cwnd;
	struct tcp_plb_state plb;
} __core;

struct file_system_type {
	const char *name;
	int fs_flags;
} __core;

__u64 bbr_exists, bbr_min_rtt_offset, bbr_mode_byte_offset, bbr_mode_lshift, bbr_mode_rshift;
__u64 dctcp_exists, dctcp_size, dctcp_loss_cwnd_offset, dctcp_has_plb;
__u64 fs_type_id, fs_flags_offset;

SEC("syscall")
int module_types(void *ctx)
{
	struct bbr *b = 0;

	bbr_exists = bpf_core_type_exists(struct bbr);
	if (bpf_core_type_exists(struct bbr)) {
		bbr_min_rtt_offset = bpf_core_field_offset(struct bbr, min_rtt_us);
		bbr_mode_byte_offset = __builtin_preserve_field_info(b->mode, BPF_FIELD_BYTE_OFFSET);
		bbr_mode_lshift = __builtin_preserve_field_info(b->mode, BPF_FIELD_LSHIFT_U64);
		bbr_mode_rshift = __builtin_preserve_field_info(b->mode, BPF_FIELD_RSHIFT_U64);
	}
	dctcp_exists = bpf_core_type_exists(struct dctcp);
	if (bpf_core_type_exists(struct dctcp)) {
		dctcp_size = bpf_core_type_size(struct dctcp);
		dctcp_loss_cwnd_offset = bpf_core_field_offset(struct dctcp, loss_cwnd);
		dctcp_has_plb = bpf_core_field_exists(struct dctcp, plb);
	}
	fs_type_id = bpf_core_type_id_kernel(struct file_system_type);
	fs_flags_offset = bpf_core_field_offset(struct file_system_type, fs_flags);
	return 0;
}
