/* A semaphore-guarded USDT probe: the program fires it only while its
 * semaphore (bpfld_guarded_semaphore, in .probes) is non-zero, which the
 * kernel arranges while a probe is attached with its ref_ctr_offset. */
#define _SDT_HAS_SEMAPHORES 1
#include <sys/sdt.h>

unsigned short bpfld_guarded_semaphore __attribute__((section(".probes")));

int bpfld_guarded(int i)
{
	long seven = 7L * i;

	if (!bpfld_guarded_semaphore)
		return 0;
	/* Built -O0: the argument is read from the stack ("-8@-8(%rbp)"). */
	DTRACE_PROBE1(bpfld, guarded, seven);
	return 1;
}
