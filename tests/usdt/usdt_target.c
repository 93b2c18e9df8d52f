/* The target of bpfld's USDT tests: a program with USDT probes
 * (<sys/sdt.h>, Debian package systemtap-sdt-dev). It waits for a line on
 * stdin (the test attaches meanwhile), then fires each probe N times
 * (argv[1]) and prints how many times the semaphore-guarded probe's
 * semaphore was seen set. Built by the tests (crates/bpfld/tests/usdt.rs)
 * with cc -O2, together with usdt_guarded.c (built -O0 so that its probe's
 * argument is on the stack). */
#include <sys/sdt.h>
#include <stdio.h>
#include <stdlib.h>

int bpfld_guarded(int i);

static volatile long sink;

/* bpfld_table[i] = 11 * i, read by the "sib" probe from memory at
 * table + i * 8: a scale-index-base operand ("-8@(%rax,%rdx,8)" in a
 * position-independent executable at -O2). */
long bpfld_table[8];

__attribute__((noinline)) void bpfld_sib(int i)
{
	DTRACE_PROBE1(bpfld, sib, bpfld_table[i & 7]);
}

/* A plain function for uprobe_multi tests. */
__attribute__((noinline)) long bpfld_work(long i)
{
	sink += i;
	return sink;
}

int main(int argc, char **argv)
{
	int n = argc > 1 ? atoi(argv[1]) : 10;
	int guarded = 0;
	char line[16];

	for (int i = 0; i < 8; i++)
		bpfld_table[i] = 11L * i;
	if (!fgets(line, sizeof(line), stdin))
		return 1;
	for (int i = 1; i <= n; i++) {
		long neg = -3L * i;
		char small = (char)(i & 0x7f);

		/* Registers and a constant ("-4@$5") at -O2. */
		DTRACE_PROBE4(bpfld, args, i, neg, small, 5);
		guarded += bpfld_guarded(i);
		bpfld_sib(i);
		bpfld_work(i);
	}
	printf("%d\n", guarded);
	return 0;
}
