/* Types a kernel's BTF rarely or never holds, for the C header round trip:
 * compiled to BTF with clang, dumped as C by bpfld, compiled again with
 * layout asserts generated from the BTF. */
typedef unsigned long long u64;
typedef int (*handler_t)(void *ctx, const char *name, ...);

enum small { SMALL_A, SMALL_B = 200 } __attribute__((packed));
enum wide16 { W16_A = 1, W16_B = 40000 } __attribute__((packed));
enum big { BIG_A = 1, BIG_B = 0x123456789ULL };
enum neg { NEG_A = -5, NEG_B = 3 };
enum { ANON_CONST = 42 };

struct list { struct list *next, *prev; };

struct packed_inner { char c; int i; } __attribute__((packed));

struct bits {
	unsigned int a: 3;
	unsigned int b: 13;
	int c: 7;
	unsigned long long d: 40;
	char tail;
	unsigned int e: 1;
};

struct __attribute__((aligned(32))) over_aligned { int x; };

struct tagged {
	int plain;
	int __attribute__((btf_decl_tag("user_tag"))) tagged_member;
	int __attribute__((btf_type_tag("user"))) *tagged_ptr;
} __attribute__((btf_decl_tag("struct_tag")));

struct everything {
	struct list node;
	struct packed_inner pi;
	char pad_me;
	struct over_aligned oa;
	struct bits bits;
	union {
		int as_int;
		float as_float;
		struct { short lo, hi; };
	};
	struct { int x, y; } point;
	enum small small;
	enum wide16 w16;
	enum big big;
	enum neg neg;
	int matrix[3][4];
	const char *const names[2];
	handler_t handlers[4];
	void (*(*signal_like)(int, void (*)(int)))(int);
	int (*array_of_fp[2])(struct list *);
	struct tagged tagged;
	u64 flexible[];
};

/* Two different structs of one name cannot be in one C file; a typedef
 * of a pointer to an incomplete struct and a cycle through pointers can. */
struct opaque;
typedef struct opaque *opaque_ptr;
struct cyc_a { struct cyc_b *b; };
struct cyc_b { struct cyc_a a; opaque_ptr o; };

struct everything everything_var;
struct cyc_b cyc_var;
int anon_const_user = ANON_CONST;
