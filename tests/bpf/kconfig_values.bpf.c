// SPDX-License-Identifier: GPL-2.0
/* __kconfig externs of every type libbpf supports, copied into .bss by a
 * syscall program so the test can compare them with the kernel's config. */
#include "bpfld_test.h"
#include <stdbool.h>

extern bool CONFIG_BPF_SYSCALL __kconfig;			/* y */
extern enum libbpf_tristate CONFIG_BPF_JIT __kconfig;		/* tristate */
extern enum libbpf_tristate CONFIG_NET_SCH_INGRESS __kconfig __weak;
extern char CONFIG_BPF_JIT_ALWAYS_ON __kconfig __weak;		/* char: y/n/m */
extern int CONFIG_HZ __kconfig;					/* int */
extern unsigned long long CONFIG_NR_CPUS __kconfig;		/* u64 */
extern unsigned short CONFIG_LOG_BUF_SHIFT __kconfig;		/* u16 */
extern unsigned char CONFIG_PGTABLE_LEVELS __kconfig __weak;	/* u8 */
extern signed char CONFIG_ILLEGAL_POINTER_VALUE_MISSING __kconfig __weak; /* missing: 0 */
extern char CONFIG_DEFAULT_HOSTNAME[16] __kconfig __weak;	/* string */
extern unsigned int LINUX_KERNEL_VERSION __kconfig;
extern bool LINUX_HAS_BPF_COOKIE __kconfig __weak;
extern bool LINUX_HAS_SYSCALL_WRAPPER __kconfig __weak;
extern int LINUX_BPFLD_UNKNOWN __kconfig __weak;		/* unknown virtual, weak: 0 */

bool bpf_syscall;
int bpf_jit;
int sch_ingress;
char jit_always_on;
int hz;
unsigned long long nr_cpus;
unsigned short log_buf_shift;
unsigned char pgtable_levels;
signed char missing;
char hostname[16];
unsigned int kernel_version;
bool has_bpf_cookie;
bool has_syscall_wrapper;
int unknown_virtual;

SEC("syscall")
int read_kconfig(void *ctx)
{
	bpf_syscall = CONFIG_BPF_SYSCALL;
	bpf_jit = CONFIG_BPF_JIT;
	sch_ingress = CONFIG_NET_SCH_INGRESS;
	jit_always_on = CONFIG_BPF_JIT_ALWAYS_ON;
	hz = CONFIG_HZ;
	nr_cpus = CONFIG_NR_CPUS;
	log_buf_shift = CONFIG_LOG_BUF_SHIFT;
	pgtable_levels = CONFIG_PGTABLE_LEVELS;
	missing = CONFIG_ILLEGAL_POINTER_VALUE_MISSING;
	__builtin_memcpy(hostname, CONFIG_DEFAULT_HOSTNAME, sizeof(hostname));
	kernel_version = LINUX_KERNEL_VERSION;
	has_bpf_cookie = LINUX_HAS_BPF_COOKIE;
	has_syscall_wrapper = LINUX_HAS_SYSCALL_WRAPPER;
	unknown_virtual = LINUX_BPFLD_UNKNOWN;
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
