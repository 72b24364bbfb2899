/* SPDX-License-Identifier: GPL-2.0 */
/*
 * libtermite-user: green threads ("fibers") for Termite processes.
 *
 * DOC: Fibers and schedulers
 *
 * Every Termite process is a fiber run by a &struct tm_sched, one scheduler
 * per OS thread, and only that thread may touch the scheduler or its fibers.
 * Spawning and switching make no system call.  Scheduling is cooperative
 * and FIFO: a fiber runs until it returns from its function, yields, or
 * suspends.
 *
 * All fibers of a scheduler run on one execution stack, mapped at the same
 * fixed address in every process of the program (see fiber.c for the
 * layout and the trade-off).  A fiber that is switched out keeps only the
 * live part of its stack, copied to the heap; it is copied back to the
 * same address when the fiber runs again.  Consequences for fiber code:
 *
 *  - Never hand a pointer to a local variable to another fiber: while its
 *    owner is switched out, that memory holds someone else's stack.  Share
 *    heap or static memory.  Within a fiber, pointers to its own live
 *    locals stay valid (also in a snapshot restored elsewhere).
 *  - Recursion and locals are bounded by %TM_STACK_SIZE (1 MiB); a guard
 *    region below the stack turns an overflow into SIGSEGV.
 *  - Wake-ups may be spurious: tm_fiber_suspend() can return without a
 *    matching tm_fiber_resume() (and does right after a restore), so
 *    re-check the awaited condition in a loop.
 *  - Fibers switch only at calls into this library, never from a signal
 *    handler.
 *
 * DOC: Snapshots
 *
 * tm_fiber_snapshot() captures a fiber that is not running (or the calling
 * fiber itself, call/cc style) as bytes: its registers and its live stack.
 * tm_fiber_restore() turns those bytes into a new runnable fiber that goes
 * on from the same point, at the same stack address, with the same locals.
 * A snapshot holds raw addresses, so it can be restored only where they
 * mean the same thing:
 *
 *  - on a scheduler whose execution stack has the same address and size
 *    (schedulers take the lowest free slot, so the Nth live scheduler of
 *    a process matches the Nth of another);
 *  - in a process with the same memory layout of code: the same process, a
 *    fork() child, or a process of the same executable and libraries
 *    loaded at the same addresses (non-PIE binary or ASLR off, e.g.
 *    `setarch -R`).  Each snapshot carries a fingerprint of the loaded
 *    objects (base addresses and build ids) and restore refuses a mismatch.
 *
 * Heap pointers held in the stack or registers (including &struct tm_fiber
 * and &struct tm_sched pointers, and the fiber's user pointer) are only
 * meaningful in the same process, or in a fork() child for memory the
 * child inherited; the term layer serializes values separately.  The
 * restored fiber is a new &struct tm_fiber: code that caches
 * tm_fiber_self() or tm_sched_self() across a switch point must fetch them
 * again; likewise for addresses of thread-local variables (&errno).
 * Code pointers and stack contents are taken as they are: restore into
 * the same build of the program (the layout check catches most mistakes).  Snapshots are trusted input: restoring one runs its code (and a
 * snapshot reveals the process's stack canary).
 *
 * A fork() child inherits its parent's schedulers, fibers and stack slots,
 * as copies: it may run them (the whole process is cloned) or
 * tm_sched_destroy() them to free the slots for schedulers of its own.
 *
 * Byte format, version 1, little-endian, no padding (&struct tm_snapshot):
 *
 *   off size field
 *     0    4 magic       "TMFS" (0x53464d54)
 *     4    2 version     1
 *     6    2 hdr_size    128: the stack bytes start here
 *     8    4 flags       bit 0 %TM_SNAP_FRESH: the fiber had not started
 *    12    4 stack_len   bytes of stack that follow the header
 *    16    8 stack_top   execution stack top: highest address + 1
 *    24    8 stack_size  usable bytes of the execution stack
 *    32    8 layout      fingerprint of the code layout (see above)
 *    40    8 data        the fiber's user pointer (same process only)
 *    48    8 rip         where the fiber resumes
 *    56    8 rsp         its stack pointer there: stack_top - stack_len
 *    64   48 rbx, rbp, r12, r13, r14, r15 (callee-saved registers)
 *   112    4 mxcsr       SSE control/status (status bits cleared)
 *   116    2 fpucw       x87 control word
 *   118    2 reserved    zero
 *   120    8 canary      the stack-protector canary (%fs:0x28) of the
 *                        process that took the snapshot
 *   128    - stack_len bytes: memory [rsp, stack_top)
 *
 * Each process has its own random canary, and -fstack-protector frames
 * hold a copy of it: where the canary differs, restore replaces every
 * 8-byte-aligned stack word equal to the old one with its own (a word of
 * user data has a 2^-56 chance to match).  Other per-process secrets are
 * not translated: a glibc jmp_buf live on the stack (pointer mangling)
 * does not survive a restore in another process, except a fork() child.
 *
 * A fresh fiber resumes in the library's entry stub with r12 = fn and
 * r13 = arg and no stack bytes.
 */
#ifndef _TERMITE_FIBER_H
#define _TERMITE_FIBER_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* Execution stack of each scheduler: usable size and guard below it. */
#ifndef TM_STACK_SIZE
#define TM_STACK_SIZE		(1UL << 20)
#endif
#define TM_STACK_GUARD		(64UL << 10)
/* Slot n of the fixed-address stack area: TM_STACK_AREA + n * 16 MiB. */
#define TM_STACK_AREA		0x6e0000000000UL
#define TM_STACK_STRIDE		(16UL << 20)
#define TM_SCHED_MAX		1024

#define TM_SNAP_MAGIC		0x53464d54U
#define TM_SNAP_VERSION		1
#define TM_SNAP_FRESH		0x1U

struct tm_fiber;

/**
 * struct tm_snapshot - header of a snapshot, followed by stack_len bytes
 *
 * See the byte format above; all fields are little-endian.
 */
struct tm_snapshot {
	uint32_t magic;
	uint16_t version;
	uint16_t hdr_size;
	uint32_t flags;
	uint32_t stack_len;
	uint64_t stack_top;
	uint64_t stack_size;
	uint64_t layout;
	uint64_t data;
	uint64_t rip;
	uint64_t rsp;
	uint64_t rbx, rbp, r12, r13, r14, r15;
	uint32_t mxcsr;
	uint16_t fpucw;
	uint16_t reserved;
	uint64_t canary;
};

/* Internal: a circular list node, as in the kernel's list_head. */
struct tm_list {
	struct tm_list *next, *prev;
};

/**
 * struct tm_sched - a scheduler; one per OS thread, owned by that thread
 * @idle: called by tm_sched_run() on the scheduler's own stack when no
 *	fiber is runnable but some are suspended.  It may block (e.g. in the
 *	kernel) and tm_fiber_resume() fibers or tm_fiber_spawn() new ones.
 *	Return 0 to go on scheduling, a negative value to make tm_sched_run()
 *	return it.  Unset: tm_sched_run() returns.
 * @on_exit: called on the scheduler's stack when a fiber has returned from
 *	its function, just before it is freed.  Optional.
 * @data: user pointer, free for the owner
 * @stack_lo: lowest usable address of the execution stack (read-only)
 * @stack_hi: top of the execution stack: stack_lo + %TM_STACK_SIZE
 * @slot: index of the stack slot (read-only)
 * @nfibers: fibers alive: runnable, running or suspended (read-only)
 *
 * The remaining fields are private.  Set @idle, @on_exit and @data after
 * tm_sched_init().
 */
struct tm_sched {
	int (*idle)(struct tm_sched *s);
	void (*on_exit)(struct tm_sched *s, struct tm_fiber *f);
	void *data;
	char *stack_lo;
	char *stack_hi;
	unsigned int slot;
	unsigned long nfibers;

	/* private */
	struct tm_list runq;		/* runnable fibers, FIFO */
	struct tm_list parked;		/* suspended fibers */
	struct tm_fiber *current;	/* running fiber, or NULL */
	struct tm_fiber *resident;	/* fiber whose stack is on stack_lo..hi */
	void *rsp;			/* saved context of tm_sched_run() */
	void *snap_buf;			/* self-snapshot request */
	size_t snap_len;
	ssize_t snap_ret;
	uint32_t mxcsr;			/* FP control for fresh fibers */
	uint16_t fpucw;
	void *asan_fake;		/* for AddressSanitizer builds */
	const void *asan_native_lo;
	size_t asan_native_size;
};

/*
 * Schedulers.  Kernel-doc comments with the details are in fiber.c.
 *
 * tm_sched_init()	map the execution stack (lowest free slot); 0 or -errno
 * tm_sched_destroy()	free the fibers left (without running them), unmap
 * tm_sched_run()	run until nothing is runnable; returns the number of
 *			fibers still alive, or the idle hook's negative value,
 *			or -EBUSY when called from a fiber
 * tm_sched_self()	the scheduler running on this thread, or NULL
 */
int tm_sched_init(struct tm_sched *s);
void tm_sched_destroy(struct tm_sched *s);
long tm_sched_run(struct tm_sched *s);
struct tm_sched *tm_sched_self(void);

/*
 * Fibers.  All calls on the owner thread of the scheduler only.
 *
 * tm_fiber_spawn()	new runnable fiber running fn(arg); exits when fn
 *			returns and is then freed; NULL/ENOMEM
 * tm_fiber_yield()	requeue the caller last and run the others
 * tm_fiber_suspend()	park the caller until tm_fiber_resume()
 * tm_fiber_resume()	make a suspended fiber runnable; on a fiber not
 *			suspended, its next tm_fiber_suspend() returns at once
 * tm_fiber_self()	the running fiber, or NULL outside fibers
 * tm_fiber_data()	the user pointer (NULL at spawn)
 * tm_fiber_destroy()	free a fiber that is not running; -EBUSY if it is
 */
struct tm_fiber *tm_fiber_spawn(struct tm_sched *s, void (*fn)(void *arg),
				void *arg);
void tm_fiber_yield(void);
void tm_fiber_suspend(void);
void tm_fiber_resume(struct tm_fiber *f);
struct tm_fiber *tm_fiber_self(void);
void *tm_fiber_data(const struct tm_fiber *f);
void tm_fiber_set_data(struct tm_fiber *f, void *data);
int tm_fiber_destroy(struct tm_fiber *f);

/*
 * Snapshots (format above).
 *
 * tm_fiber_snapshot()	write f's snapshot to buf; returns its size, or with
 *			buf NULL only the size; -ENOSPC if len is too small.
 *			f may be the caller: it then returns the size, and 0
 *			in fibers restored from the snapshot (call/cc style).
 * tm_fiber_restore()	new runnable fiber from a snapshot; NULL with errno
 *			EINVAL (malformed), EXDEV (other stack address or
 *			code layout) or ENOMEM
 */
ssize_t tm_fiber_snapshot(struct tm_fiber *f, void *buf, size_t len);
struct tm_fiber *tm_fiber_restore(struct tm_sched *s, const void *buf,
				  size_t len);

#endif /* _TERMITE_FIBER_H */
