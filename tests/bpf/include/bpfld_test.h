/* Shared definitions of bpfld's BPF test programs: what the libbpf 1.1
 * headers of Debian 12 lack (they predate bpf_ksym_exists and __ulong). */
#ifndef BPFLD_TEST_H
#define BPFLD_TEST_H

/* Over a generated vmlinux.h instead of the UAPI headers, as
 * crates/obj/tests/vmlinux_header.rs builds every program. */
#ifdef BPFLD_TEST_VMLINUX_H
#include "vmlinux.h"
#else
#include <linux/types.h>
#include <linux/bpf.h>
#endif
#include <bpf_helpers.h>

#ifndef bpf_ksym_exists
/* As libbpf >= 1.2: the address of a weak extern is 0 when it did not
 * resolve; the loader turns the load of that address into a constant. */
#define bpf_ksym_exists(sym) ({						\
	_Static_assert(!__builtin_constant_p(!!sym), #sym " should be marked as __weak");	\
	!!sym;								\
})
#endif

#ifndef __ulong
#define __ulong(name, val) enum { ___bpf_concat(__unique_value, __COUNTER__) = val } name
#endif

/* A tag on an extern kfunc declaration that bpfld reads: among the externs
 * carrying the same group name, at least one must resolve. */
#define __bpfld_require_one(group) __attribute__((btf_decl_tag("bpfld:require_one:" group)))

#endif
