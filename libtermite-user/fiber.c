// SPDX-License-Identifier: GPL-2.0
/*
 * libtermite-user: fibers, schedulers and snapshots (API in fiber.h).
 *
 * DOC: Design: one execution stack per scheduler, copied in and out
 *
 * Each scheduler maps one execution stack (%TM_STACK_SIZE, 1 MiB) with a
 * PROT_NONE guard region (%TM_STACK_GUARD, 64 KiB) below it, at a fixed
 * address: slot n of the area at %TM_STACK_AREA (0x6e0000000000, above
 * the AddressSanitizer shadow, far from the heap, the libraries and the
 * main stack), n being the lowest slot free in the process.  Every fiber
 * runs on that stack.  tm_sched_run() runs on the thread's own stack; a
 * switch from fiber A to fiber B goes through it:
 *
 *   A: push callee-saved registers on its stack, switch to the scheduler
 *   scheduler: copy A's live stack [rsp, top) to A's heap buffer,
 *              copy B's buffer back to [B's rsp, top), switch to B
 *   B: pop its registers, go on
 *
 * The copy is lazy: a fiber's stack stays on the execution stack until
 * another fiber needs it, so a fiber that yields or suspends and is the
 * next to run costs two context switches and no copy.  A fresh fiber has
 * no stack at all until it first runs; a suspended one keeps its frame
 * chain, a few hundred bytes.
 *
 * Why copy (the Termite paper's section 4.9 wants processes serializable,
 * so that they can migrate and be cloned): a suspended fiber is then a
 * self-contained value, registers plus the bytes of its stack, and since it
 * always runs at the same address, pointers into its stack (frame pointers,
 * pointers to locals) stay valid wherever it is restored.  Memory follows
 * what each fiber really uses, to the byte: a fiber parked in a receive
 * loop costs under 200 bytes.
 *
 * The alternative, per-fiber stacks at fixed addresses ("isomalloc", as in
 * Charm++/AMPI): each fiber owns a range of a huge reserved area, unique in
 * the whole program (in the whole cluster, for migration), and switches
 * are plain stack switches.  Measured with bench/fiber_bench.c (2-core
 * x86-64 VM, gcc 12 -O2; both designs use the same tm_ctx_switch()):
 *
 *                                  copy stack         per-fiber stacks
 *   switch, bare                   -                  11 ns
 *   yield through the scheduler,   28 ns (no copy)    28 ns: the same
 *     fiber stays resident                            path, no copy
 *   yield, 2 fibers taking turns   33 ns              28 ns (as above)
 *     (~200 B live stack each)
 *     +1 / 4 / 16 / 64 KiB live    39 / 124 / 346 /   28 ns
 *                                  1200 ns
 *   suspend/resume handoff         32 ns
 *   spawn; spawn + run + exit      8 ns; 50 ns
 *   memory per idle fiber (RSS)    176-184 B          4096 B: one page at
 *                                                     least, + 2 VMAs
 *   1,000,000 idle fibers          ~180 MB            >= 4 GB, and 65530
 *                                                     VMAs max: no guard
 *                                                     page per fiber
 *   snapshot / restore, idle fiber 23 ns / 29 ns      copy the used pages
 *   pointers to locals shared      invalid while the  valid
 *     between fibers               owner is out
 *   address space per fiber        none               its maximum stack,
 *                                                     reserved everywhere
 *
 * Copying costs a few nanoseconds per switch at the depth where processes
 * wait (a receive loop: ~100-200 bytes), and ~18 ns per KiB of live stack
 * beyond; it uses 20 times less memory, and memory is what limits a
 * million processes.  The bad case is a fiber that switches while deep in
 * recursion (64 KiB deep: ~1.2 us per switch): keep deep work between
 * switch points.
 *
 * DOC: Sanitizers
 *
 * Built with -fsanitize=address, the switches tell ASan about the stacks
 * (__sanitizer_start_switch_fiber/__sanitizer_finish_switch_fiber) and the
 * copies unpoison the bytes they move, so stack redzones of frames that
 * live across a switch are no longer checked.  All host tests pass under
 * gcc 12 and clang 14 ASan.  Keep detect_stack_use_after_return off (the
 * default with gcc 12; clang: -fsanitize-address-use-after-return=never or
 * ASAN_OPTIONS=detect_stack_use_after_return=0): it moves locals to a
 * "fake stack" of ~1.4 MB per fiber, outside the execution stack, so
 * 100,000 fibers exhaust memory and snapshots miss their locals.
 * Valgrind is not told about the stack switches (no VALGRIND_STACK_*).
 */
#define _GNU_SOURCE
#include <elf.h>
#include <errno.h>
#include <link.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "fiber.h"

#if defined(__SANITIZE_ADDRESS__)
#define TM_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define TM_ASAN 1
#endif
#endif

#ifdef TM_ASAN
#include <sanitizer/asan_interface.h>
#include <sanitizer/common_interface_defs.h>
#define tm_unpoison(p, n)	ASAN_UNPOISON_MEMORY_REGION(p, n)
#else
#define tm_unpoison(p, n)	do { } while (0)
#endif

#ifndef MAP_FIXED_NOREPLACE
#define MAP_FIXED_NOREPLACE	0x100000
#endif

#define TM_HIDDEN		__attribute__((visibility("hidden")))
#define tm_container_of(p, type, member) \
	((type *)((char *)(p) - offsetof(type, member)))

/* The asm primitives, ctx_x86_64.S. */
TM_HIDDEN void tm_ctx_switch(void **save_rsp, void *to_rsp);
TM_HIDDEN void tm_ctx_entry(void);
TM_HIDDEN __attribute__((noreturn)) void tm__fiber_start(void (*fn)(void *),
							  void *arg);

/* What tm_ctx_switch() pushes; see ctx_x86_64.S. */
struct tm_frame {
	uint16_t fpucw;
	uint16_t pad;
	uint32_t mxcsr;
	uint64_t r15, r14, r13, r12, rbx, rbp;
	uint64_t rip;
};
#define TM_FRAME	sizeof(struct tm_frame)

_Static_assert(sizeof(struct tm_frame) == 64, "tm_frame layout");
_Static_assert(sizeof(struct tm_snapshot) == 128, "tm_snapshot layout");
_Static_assert(TM_STACK_GUARD + TM_STACK_SIZE <= TM_STACK_STRIDE,
	       "stack slot too small");

#define TM_MXCSR_STATUS		0x3fU		/* exception flags */
#define TM_MXCSR_RESERVED	0xffff0000U

enum tm_state {
	TM_RUNNABLE,		/* in sched->runq */
	TM_RUNNING,		/* sched->current, in no list */
	TM_SUSPENDED,		/* in sched->parked */
	TM_EXITED,		/* returned from fn, being freed */
	TM_SNAPPING,		/* asked for a snapshot of itself */
};

/**
 * struct tm_fiber - a green thread; 56 bytes (64 with malloc's header)
 * @node: link in the scheduler's runq or parked list
 * @sched: owner
 * @rsp: saved frame (struct tm_frame) on the execution stack, once started
 * @arg: argument of @fn, while @fresh
 * @buf: copy of [@rsp, stack top) while another fiber is resident
 * @fn: function, while @fresh
 * @data: user pointer
 * @cap: size of @buf
 * @state: &enum tm_state
 * @wake: a tm_fiber_resume() came while not suspended: the next
 *	tm_fiber_suspend() returns at once
 * @fresh: never ran: no stack yet
 * @restored: made by tm_fiber_restore() and not yet switched out
 */
struct tm_fiber {
	struct tm_list node;
	struct tm_sched *sched;
	union {
		char *rsp;
		void *arg;
	};
	union {
		char *buf;
		void (*fn)(void *arg);
	};
	void *data;
	uint32_t cap;
	uint8_t state;
	uint8_t wake;
	uint8_t fresh;
	uint8_t restored;
};

/* The scheduler running on this thread, while tm_sched_run() runs. */
static __thread struct tm_sched *tm_cur
	__attribute__((tls_model("initial-exec")));

/* Stack slots in use in this process. */
static unsigned long tm_slots[TM_SCHED_MAX / 64];

/* ---- small helpers ------------------------------------------------- */

static void tm_list_init(struct tm_list *h)
{
	h->next = h;
	h->prev = h;
}

static int tm_list_empty(const struct tm_list *h)
{
	return h->next == h;
}

static void tm_list_add_tail(struct tm_list *n, struct tm_list *h)
{
	n->prev = h->prev;
	n->next = h;
	h->prev->next = n;
	h->prev = n;
}

static void tm_list_add(struct tm_list *n, struct tm_list *h)
{
	n->prev = h;
	n->next = h->next;
	h->next->prev = n;
	h->next = n;
}

static void tm_list_del(struct tm_list *n)
{
	n->prev->next = n->next;
	n->next->prev = n->prev;
}

static __attribute__((noreturn)) void tm_die(const char *why)
{
	fprintf(stderr, "libtermite-user: %s\n", why);
	abort();
}

/*
 * The current scheduler, read again after every switch: a fiber restored in
 * another process or thread must not use a TLS address cached before it.
 */
static __attribute__((noinline)) struct tm_sched *tm_cur_sched(void)
{
	return tm_cur;
}

static size_t tm_round_cap(size_t n)
{
	/* Small stacks exactly (malloc rounds to 16), larger ones with slack. */
	if (n <= 1024)
		return (n + 15) & ~15UL;
	if (n <= 16384)
		return (n + 255) & ~255UL;
	return (n + 4095) & ~4095UL;
}

/* ---- stack slots --------------------------------------------------- */

static int tm_slot_get(void)
{
	unsigned int i;

	for (i = 0; i < TM_SCHED_MAX / 64; i++) {
		unsigned long old = __atomic_load_n(&tm_slots[i],
						    __ATOMIC_RELAXED);

		while (~old) {
			int bit = __builtin_ctzl(~old);

			if (__atomic_compare_exchange_n(&tm_slots[i], &old,
							old | (1UL << bit), 0,
							__ATOMIC_ACQ_REL,
							__ATOMIC_RELAXED))
				return i * 64 + bit;
		}
	}
	return -1;
}

static void tm_slot_put(unsigned int slot)
{
	__atomic_fetch_and(&tm_slots[slot / 64], ~(1UL << (slot % 64)),
			   __ATOMIC_RELEASE);
}

/* ---- context switches ---------------------------------------------- */

/* From the running fiber to tm_sched_run(); returns when it runs again. */
static void tm_switch_out(struct tm_sched *s, struct tm_fiber *f)
{
#ifdef TM_ASAN
	void *fake = NULL;

	__sanitizer_start_switch_fiber(f->state == TM_EXITED ? NULL : &fake,
				       s->asan_native_lo, s->asan_native_size);
#endif
	tm_ctx_switch((void **)&f->rsp, s->rsp);
#ifdef TM_ASAN
	s = tm_cur_sched();
	__sanitizer_finish_switch_fiber(fake, &s->asan_native_lo,
					&s->asan_native_size);
#endif
}

/* From tm_sched_run() to fiber f, whose stack is in place. */
static void tm_switch_in(struct tm_sched *s, struct tm_fiber *f)
{
#ifdef TM_ASAN
	void *fake = NULL;

	__sanitizer_start_switch_fiber(&fake, s->stack_lo, TM_STACK_SIZE);
#endif
	tm_ctx_switch(&s->rsp, f->rsp);
#ifdef TM_ASAN
	__sanitizer_finish_switch_fiber(fake, NULL, NULL);
#endif
}

void tm__fiber_start(void (*fn)(void *), void *arg)
{
	struct tm_sched *s;
	struct tm_fiber *f;

#ifdef TM_ASAN
	s = tm_cur_sched();
	__sanitizer_finish_switch_fiber(NULL, &s->asan_native_lo,
					&s->asan_native_size);
#endif
	fn(arg);

	s = tm_cur_sched();
	f = s->current;
	f->state = TM_EXITED;
	tm_switch_out(s, f);
	tm_die("an exited fiber was resumed");
}

/* ---- moving stacks ------------------------------------------------- */

/* Save the resident fiber's live stack to its buffer. */
static void tm_stack_out(struct tm_sched *s, struct tm_fiber *f)
{
	size_t n = s->stack_hi - f->rsp;

	if (n > f->cap || (f->cap > 16384 && n < f->cap / 4)) {
		size_t cap = tm_round_cap(n);

		free(f->buf);
		f->buf = malloc(cap);
		if (!f->buf)
			tm_die("out of memory saving a fiber's stack");
		f->cap = cap;
	}
	tm_unpoison(f->rsp, n);
	memcpy(f->buf, f->rsp, n);
}

/* Put f's saved stack back in place. */
static void tm_stack_in(struct tm_sched *s, struct tm_fiber *f)
{
	size_t n = s->stack_hi - f->rsp;

	tm_unpoison(f->rsp, n);
	memcpy(f->rsp, f->buf, n);
}

/* Fill a frame that enters tm__fiber_start(fn, arg) on an empty stack. */
static void tm_frame_fresh(const struct tm_sched *s, struct tm_frame *fr,
			   void (*fn)(void *), void *arg)
{
	memset(fr, 0, sizeof(*fr));
	fr->fpucw = s->fpucw;
	fr->mxcsr = s->mxcsr;
	fr->r12 = (uintptr_t)fn;
	fr->r13 = (uintptr_t)arg;
	fr->rip = (uintptr_t)tm_ctx_entry;
}

/* Give a fresh fiber its first frame, at the top of the execution stack. */
static void tm_stack_fresh(struct tm_sched *s, struct tm_fiber *f)
{
	struct tm_frame *fr = (struct tm_frame *)(s->stack_hi - TM_FRAME);

	tm_unpoison(fr, TM_FRAME);
	tm_frame_fresh(s, fr, f->fn, f->arg);
	f->fresh = 0;
	f->buf = NULL;
	f->cap = 0;
	f->rsp = (char *)fr;
}

/* ---- schedulers ---------------------------------------------------- */

/**
 * tm_sched_init() - set up a scheduler for the calling thread
 * @s: the scheduler; its memory is the caller's
 *
 * Maps the execution stack at the lowest free slot of the stack area.
 * Fresh fibers start with the calling thread's x87 and SSE control words.
 *
 * Return: 0, -EAGAIN if all %TM_SCHED_MAX slots are taken, -EEXIST if
 * something else is mapped at the slot's address, or another -errno.
 */
int tm_sched_init(struct tm_sched *s)
{
	char *base, *p;
	int slot, err;

	memset(s, 0, sizeof(*s));
	tm_list_init(&s->runq);
	tm_list_init(&s->parked);
	__asm__ volatile("fnstcw %0" : "=m"(s->fpucw));
	__asm__ volatile("stmxcsr %0" : "=m"(s->mxcsr));
	s->mxcsr &= ~TM_MXCSR_STATUS;

	slot = tm_slot_get();
	if (slot < 0)
		return -EAGAIN;
	base = (char *)TM_STACK_AREA + (unsigned long)slot * TM_STACK_STRIDE;
	p = mmap(base, TM_STACK_GUARD + TM_STACK_SIZE, PROT_NONE,
		 MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE |
		 MAP_FIXED_NOREPLACE, -1, 0);
	if (p == MAP_FAILED) {
		err = -errno;
		goto out_slot;
	}
	if (p != base) {
		/* A kernel older than 4.17 took the address as a hint. */
		err = -EEXIST;
		goto out_unmap;
	}
	if (mprotect(base + TM_STACK_GUARD, TM_STACK_SIZE,
		     PROT_READ | PROT_WRITE)) {
		err = -errno;
		goto out_unmap;
	}
	s->slot = slot;
	s->stack_lo = base + TM_STACK_GUARD;
	s->stack_hi = s->stack_lo + TM_STACK_SIZE;
	return 0;

out_unmap:
	munmap(p, TM_STACK_GUARD + TM_STACK_SIZE);
out_slot:
	tm_slot_put(slot);
	return err;
}

static void tm_fiber_free(struct tm_sched *s, struct tm_fiber *f)
{
	if (s->resident == f)
		s->resident = NULL;
	if (!f->fresh)
		free(f->buf);
	free(f);
	s->nfibers--;
}

static void tm_free_list(struct tm_sched *s, struct tm_list *h)
{
	while (!tm_list_empty(h)) {
		struct tm_fiber *f = tm_container_of(h->next, struct tm_fiber,
						     node);

		tm_list_del(&f->node);
		tm_fiber_free(s, f);
	}
}

/**
 * tm_sched_destroy() - free a scheduler, its fibers and its stack
 * @s: a scheduler that is not running
 *
 * Fibers still alive are freed without running again (no unwinding).
 */
void tm_sched_destroy(struct tm_sched *s)
{
	if (tm_cur == s)
		tm_die("tm_sched_destroy() on a running scheduler");
	tm_free_list(s, &s->runq);
	tm_free_list(s, &s->parked);
	if (!s->stack_lo)	/* tm_sched_init() failed, or destroyed */
		return;
	munmap(s->stack_lo - TM_STACK_GUARD, TM_STACK_GUARD + TM_STACK_SIZE);
	tm_slot_put(s->slot);
	s->stack_lo = NULL;
	s->stack_hi = NULL;
}

static ssize_t tm_snapshot_write(struct tm_sched *s, struct tm_fiber *f,
				 void *buf, size_t len);

/**
 * tm_sched_run() - run fibers until none is runnable
 * @s: the scheduler, owned by the calling thread
 *
 * When the run queue empties with fibers still suspended, calls @s->idle
 * if set (and goes on unless it returns a negative value).
 *
 * Return: the number of fibers still alive (0: all returned), the idle
 * hook's negative value, or -EBUSY if called from a fiber or while a
 * scheduler already runs on this thread.
 */
long tm_sched_run(struct tm_sched *s)
{
	struct tm_fiber *f;
	long ret;

	if (tm_cur)
		return -EBUSY;
	tm_cur = s;
	for (;;) {
		if (tm_list_empty(&s->runq)) {
			if (!s->nfibers || !s->idle) {
				ret = s->nfibers;
				break;
			}
			ret = s->idle(s);
			if (ret < 0)
				break;
			continue;
		}
		f = tm_container_of(s->runq.next, struct tm_fiber, node);
		tm_list_del(&f->node);
		if (s->resident != f) {
			if (s->resident)
				tm_stack_out(s, s->resident);
			if (f->fresh)
				tm_stack_fresh(s, f);
			else
				tm_stack_in(s, f);
			s->resident = f;
		}
		f->state = TM_RUNNING;
		s->current = f;
		tm_switch_in(s, f);
		s->current = NULL;
		f->restored = 0;

		switch (f->state) {
		case TM_EXITED:
			if (s->on_exit)
				s->on_exit(s, f);
			tm_fiber_free(s, f);
			break;
		case TM_SNAPPING:
			s->snap_ret = tm_snapshot_write(s, f, s->snap_buf,
							s->snap_len);
			f->state = TM_RUNNABLE;
			tm_list_add(&f->node, &s->runq);
			break;
		}
	}
	tm_cur = NULL;
	return ret;
}

/**
 * tm_sched_self() - the scheduler running on this thread
 *
 * Return: the scheduler whose tm_sched_run() is active on this thread
 * (also inside its hooks), or NULL.
 */
struct tm_sched *tm_sched_self(void)
{
	return tm_cur;
}

/* ---- fibers -------------------------------------------------------- */

/**
 * tm_fiber_spawn() - create a runnable fiber
 * @s: its scheduler
 * @fn: its function; the fiber exits when @fn returns
 * @arg: argument of @fn
 *
 * The fiber is queued last and gets no stack until it first runs.  May be
 * called from the owner thread, inside or outside tm_sched_run().
 *
 * Return: the fiber, valid until it exits, or NULL with errno ENOMEM.
 */
struct tm_fiber *tm_fiber_spawn(struct tm_sched *s, void (*fn)(void *arg),
				void *arg)
{
	struct tm_fiber *f = malloc(sizeof(*f));

	if (!f)
		return NULL;
	f->sched = s;
	f->arg = arg;
	f->fn = fn;
	f->data = NULL;
	f->cap = 0;
	f->state = TM_RUNNABLE;
	f->wake = 0;
	f->fresh = 1;
	f->restored = 0;
	tm_list_add_tail(&f->node, &s->runq);
	s->nfibers++;
	return f;
}

/**
 * tm_fiber_yield() - let the other runnable fibers run, then go on
 *
 * Does nothing outside a fiber.
 */
void tm_fiber_yield(void)
{
	struct tm_sched *s = tm_cur;
	struct tm_fiber *f = s ? s->current : NULL;

	if (!f)
		return;
	f->state = TM_RUNNABLE;
	tm_list_add_tail(&f->node, &s->runq);
	tm_switch_out(s, f);
}

/**
 * tm_fiber_suspend() - park the calling fiber until tm_fiber_resume()
 *
 * Returns at once if the fiber was resumed since it last suspended.  May
 * also return spuriously (after a restore): re-check the condition waited
 * for.  Does nothing outside a fiber.
 */
void tm_fiber_suspend(void)
{
	struct tm_sched *s = tm_cur;
	struct tm_fiber *f = s ? s->current : NULL;

	if (!f)
		return;
	if (f->wake) {
		f->wake = 0;
		return;
	}
	f->state = TM_SUSPENDED;
	tm_list_add_tail(&f->node, &s->parked);
	tm_switch_out(s, f);
}

/**
 * tm_fiber_resume() - make a fiber runnable
 * @f: a live fiber of a scheduler of the calling thread
 *
 * A suspended fiber is queued last.  Otherwise @f's next tm_fiber_suspend()
 * will return at once (a wake-up is never lost).  Callable from fibers,
 * from the idle hook, and outside tm_sched_run().
 */
void tm_fiber_resume(struct tm_fiber *f)
{
	struct tm_sched *s = f->sched;

	if (f->state == TM_SUSPENDED) {
		tm_list_del(&f->node);
		f->state = TM_RUNNABLE;
		tm_list_add_tail(&f->node, &s->runq);
	} else {
		f->wake = 1;
	}
}

/**
 * tm_fiber_self() - the running fiber
 *
 * Return: the fiber calling, or NULL outside fibers.
 */
struct tm_fiber *tm_fiber_self(void)
{
	return tm_cur ? tm_cur->current : NULL;
}

void *tm_fiber_data(const struct tm_fiber *f)
{
	return f->data;
}

void tm_fiber_set_data(struct tm_fiber *f, void *data)
{
	f->data = data;
}

/**
 * tm_fiber_destroy() - free a fiber that is not running, without running it
 * @f: a runnable or suspended fiber
 *
 * Its stack is discarded without unwinding and @s->on_exit is not called:
 * e.g. after it has been snapshotted and migrated.
 *
 * Return: 0, or -EBUSY if @f is the running fiber.
 */
int tm_fiber_destroy(struct tm_fiber *f)
{
	if (f->state == TM_RUNNING)
		return -EBUSY;
	tm_list_del(&f->node);
	tm_fiber_free(f->sched, f);
	return 0;
}

/* ---- snapshots ----------------------------------------------------- */

static uint64_t tm_fnv(uint64_t h, const void *p, size_t n)
{
	const unsigned char *c = p;

	while (n--)
		h = (h ^ *c++) * 0x100000001b3ULL;
	return h;
}

struct tm_layout_walk {
	uint64_t hash;
	unsigned long long adds, subs;
	int first;
	int cached;
};

static uint64_t tm_layout_hash;
static unsigned long long tm_layout_adds, tm_layout_subs;

/* Hash the base address and GNU build id of every loaded object. */
static int tm_layout_cb(struct dl_phdr_info *info, size_t size, void *data)
{
	struct tm_layout_walk *w = data;
	int i;

	if (w->first) {
		w->first = 0;
		if (size >= offsetof(struct dl_phdr_info, dlpi_subs) +
			    sizeof(info->dlpi_subs)) {
			w->adds = info->dlpi_adds;
			w->subs = info->dlpi_subs;
			if (tm_layout_hash && w->adds == tm_layout_adds &&
			    w->subs == tm_layout_subs) {
				w->cached = 1;
				return 1;
			}
		}
	}
	w->hash = tm_fnv(w->hash, &info->dlpi_addr, sizeof(info->dlpi_addr));
	for (i = 0; i < info->dlpi_phnum; i++) {
		const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
		const char *p, *end;
		size_t align;

		if (ph->p_type != PT_NOTE)
			continue;
		p = (const char *)(info->dlpi_addr + ph->p_vaddr);
		end = p + ph->p_memsz;
		align = ph->p_align == 8 ? 8 : 4;
		while (p + sizeof(ElfW(Nhdr)) <= end) {
			const ElfW(Nhdr) *nh = (const void *)p;
			const char *name = p + sizeof(*nh);
			const char *desc = name + ((nh->n_namesz + align - 1) &
						   ~(align - 1));

			if (desc + nh->n_descsz > end)
				break;
			if (nh->n_type == NT_GNU_BUILD_ID &&
			    nh->n_namesz == 4 && !memcmp(name, "GNU", 4))
				w->hash = tm_fnv(w->hash, desc, nh->n_descsz);
			p = desc + ((nh->n_descsz + align - 1) & ~(align - 1));
		}
	}
	return 0;
}

/*
 * Fingerprint of the code layout: same value, same code at the same
 * addresses.  Recomputed when objects were loaded or unloaded.
 */
static uint64_t tm_layout(void)
{
	struct tm_layout_walk w = { .hash = 0xcbf29ce484222325ULL,
				    .first = 1 };
	uintptr_t anchor = (uintptr_t)tm_fiber_restore;

	dl_iterate_phdr(tm_layout_cb, &w);
	if (w.cached)
		return tm_layout_hash;
	w.hash = tm_fnv(w.hash, &anchor, sizeof(anchor));
	w.hash |= 1;	/* never 0: 0 means "not computed" */
	tm_layout_adds = w.adds;
	tm_layout_subs = w.subs;
	tm_layout_hash = w.hash;
	return w.hash;
}

/* The stack-protector canary of this process (x86-64: %fs:0x28). */
static uint64_t tm_canary(void)
{
	uint64_t c;

	__asm__("movq %%fs:0x28, %0" : "=r"(c));
	return c;
}

/* Replace the copies of another process's canary in restored stack bytes. */
static void tm_recanary(char *p, size_t n, uint64_t from, uint64_t to)
{
	size_t i;

	/* p is 8-byte aligned in the fiber's address space (rsp is). */
	for (i = 0; i + 8 <= n; i += 8) {
		uint64_t w;

		memcpy(&w, p + i, 8);
		if (w == from)
			memcpy(p + i, &to, 8);
	}
}

/* Snapshot of f, which is not running (suspended, runnable or SNAPPING). */
static ssize_t tm_snapshot_write(struct tm_sched *s, struct tm_fiber *f,
				 void *buf, size_t len)
{
	struct tm_snapshot h;
	struct tm_frame fresh;
	const struct tm_frame *fr;
	const char *stack = NULL;
	size_t n = 0;

	if (f->fresh) {
		tm_frame_fresh(s, &fresh, f->fn, f->arg);
		fr = &fresh;
	} else {
		const char *src = s->resident == f ? f->rsp : f->buf;

		n = s->stack_hi - f->rsp - TM_FRAME;
		if (s->resident == f)
			tm_unpoison(f->rsp, n + TM_FRAME);
		fr = (const struct tm_frame *)src;
		stack = src + TM_FRAME;
	}
	if (!buf)
		return sizeof(h) + n;
	if (len < sizeof(h) + n)
		return -ENOSPC;

	memset(&h, 0, sizeof(h));
	h.magic = TM_SNAP_MAGIC;
	h.version = TM_SNAP_VERSION;
	h.hdr_size = sizeof(h);
	h.flags = f->fresh ? TM_SNAP_FRESH : 0;
	h.stack_len = n;
	h.stack_top = (uintptr_t)s->stack_hi;
	h.stack_size = TM_STACK_SIZE;
	h.layout = tm_layout();
	h.data = (uintptr_t)f->data;
	h.rip = fr->rip;
	h.rsp = (uintptr_t)s->stack_hi - n;
	h.rbx = fr->rbx;
	h.rbp = fr->rbp;
	h.r12 = fr->r12;
	h.r13 = fr->r13;
	h.r14 = fr->r14;
	h.r15 = fr->r15;
	h.mxcsr = fr->mxcsr & ~TM_MXCSR_STATUS;
	h.fpucw = fr->fpucw;
	h.canary = tm_canary();
	memcpy(buf, &h, sizeof(h));
	if (n)
		memcpy((char *)buf + sizeof(h), stack, n);
	return sizeof(h) + n;
}

/**
 * tm_fiber_snapshot() - capture a fiber as bytes (format in fiber.h)
 * @f: a runnable or suspended fiber, or the calling fiber itself
 * @buf: where to write the snapshot, or NULL to ask its size
 * @len: size of @buf
 *
 * The fiber is not changed.  When @f is the caller, the snapshot is taken
 * at the return from this call, call/cc style: the call returns the size
 * here, and 0 in every fiber restored from the snapshot; asked with @buf
 * NULL, the size is then an upper bound.
 *
 * Return: the size of the snapshot (written unless @buf is NULL); 0 in a
 * restored fiber (see above); -ENOSPC if @len is too small; -EBUSY if @f
 * runs on another thread.
 */
ssize_t tm_fiber_snapshot(struct tm_fiber *f, void *buf, size_t len)
{
	struct tm_sched *s = f->sched;

	if (f->state != TM_RUNNING)
		return tm_snapshot_write(s, f, buf, len);
	if (tm_cur != s || s->current != f)
		return -EBUSY;
	if (!buf) {
		/* This frame and the ones below are smaller than the slack. */
		const char *sp = __builtin_frame_address(0);

		return sizeof(struct tm_snapshot) + (s->stack_hi - sp) + 512;
	}
	s->snap_buf = buf;
	s->snap_len = len;
	f->state = TM_SNAPPING;
	tm_switch_out(s, f);

	/* Here again: in f, or in a fiber restored from the snapshot. */
	s = tm_cur_sched();
	if (s->current->restored)
		return 0;
	return s->snap_ret;
}

/**
 * tm_fiber_restore() - make a runnable fiber from a snapshot
 * @s: scheduler of the calling thread, with the snapshot's stack address
 * @buf: the snapshot
 * @len: its exact size
 *
 * The new fiber is queued last, with the snapshot's user pointer, and goes
 * on from where the snapshot was taken.  Restoring a snapshot twice makes
 * two independent fibers (cloning).
 *
 * Return: the fiber, or NULL with errno EINVAL (not a valid snapshot),
 * EXDEV (taken on another stack address or code layout) or ENOMEM.
 */
struct tm_fiber *tm_fiber_restore(struct tm_sched *s, const void *buf,
				  size_t len)
{
	struct tm_snapshot h;
	struct tm_frame *fr;
	struct tm_fiber *f;
	uint64_t canary = tm_canary();
	size_t n;

	if (len < sizeof(h))
		goto inval;
	memcpy(&h, buf, sizeof(h));
	if (h.magic != TM_SNAP_MAGIC || h.version != TM_SNAP_VERSION ||
	    h.hdr_size != sizeof(h) || len != sizeof(h) + (size_t)h.stack_len ||
	    (h.flags & ~TM_SNAP_FRESH) || (h.mxcsr & TM_MXCSR_RESERVED))
		goto inval;
	if (h.reserved)
		goto inval;
	if (h.stack_top != (uintptr_t)s->stack_hi ||
	    h.stack_size != TM_STACK_SIZE || h.layout != tm_layout()) {
		errno = EXDEV;
		return NULL;
	}
	if (h.stack_len > TM_STACK_SIZE - TM_FRAME ||
	    h.rsp != h.stack_top - h.stack_len || (h.rsp & 7))
		goto inval;

	f = malloc(sizeof(*f));
	if (!f)
		return NULL;
	n = TM_FRAME + h.stack_len;
	f->cap = tm_round_cap(n);
	f->buf = malloc(f->cap);
	if (!f->buf) {
		free(f);
		return NULL;
	}
	fr = (struct tm_frame *)f->buf;
	fr->fpucw = h.fpucw;
	fr->pad = 0;
	fr->mxcsr = h.mxcsr;
	fr->r15 = h.r15;
	fr->r14 = h.r14;
	fr->r13 = h.r13;
	fr->r12 = h.r12;
	fr->rbx = h.rbx;
	fr->rbp = h.rbp;
	fr->rip = h.rip;
	memcpy(f->buf + TM_FRAME, (const char *)buf + sizeof(h), h.stack_len);
	if (h.canary != canary)
		tm_recanary(f->buf + TM_FRAME, h.stack_len, h.canary, canary);

	f->sched = s;
	f->rsp = (char *)(uintptr_t)h.rsp - TM_FRAME;
	f->data = (void *)(uintptr_t)h.data;
	f->state = TM_RUNNABLE;
	f->wake = 0;
	f->fresh = 0;
	f->restored = 1;
	tm_list_add_tail(&f->node, &s->runq);
	s->nfibers++;
	return f;

inval:
	errno = EINVAL;
	return NULL;
}
